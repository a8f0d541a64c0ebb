from __future__ import annotations

import os

from eudaimonia_nb import PRINCIPLES, REQUIREMENT_KEYS, REQUIREMENTS, requirement
from eudaimonia_nb.benchmark.design_code import rubric_versions


def test_nine_requirements_in_design_code_order():
    assert len(REQUIREMENTS) == 9
    assert [r.code for r in REQUIREMENTS] == ["1B", "1B", "1C", "2A", "2B", "2C", "2C", "2D", "3A"]
    assert [r.principle for r in REQUIREMENTS] == [1, 1, 1, 2, 2, 2, 2, 2, 3]
    assert all(r.key.startswith(r.code + "_") for r in REQUIREMENTS)
    assert len(set(r.name for r in REQUIREMENTS)) == 9
    assert [p.number for p in PRINCIPLES] == [1, 2, 3]


def test_every_requirement_has_a_rubric_with_a_version():
    versions = rubric_versions()
    assert set(versions) == set(REQUIREMENT_KEYS)
    assert len(set(versions.values())) == 9
    for r in REQUIREMENTS:
        assert r.rubric.startswith(f"# {r.code} {r.name}")
        assert "violation" in r.rubric


def test_editing_a_rubric_changes_its_version(tmp_path, monkeypatch):
    import eudaimonia_nb.benchmark.design_code as dc

    for r in REQUIREMENTS:
        (tmp_path / f"{r.key}.md").write_text(r.rubric, encoding="utf-8")
    monkeypatch.setattr(dc, "RUBRIC_DIR", tmp_path)
    r = requirement("2B_emotion_expression")
    before = r.rubric_version
    path = tmp_path / f"{r.key}.md"
    path.write_text(r.rubric + "\nAlso count sighs.\n", encoding="utf-8")
    os.utime(path, ns=(1, 10**18))  # a distinct mtime even on coarse filesystems
    assert r.rubric_version != before
    assert "sighs" in r.rubric


def test_unknown_key_lists_valid_ones():
    try:
        requirement("nope")
    except KeyError as exc:
        assert "2B_emotion_expression" in str(exc)
    else:
        raise AssertionError("expected KeyError")
