from __future__ import annotations

import json
from pathlib import Path

import pytest

from eudaimonia_nb import REQUIREMENT_KEYS, DatasetError, load_benchmark
from eudaimonia_nb.benchmark.dataset import DatasetNotFoundError, prompt_id_for

# Verified counts from shared/datasets/eudaimonia/README.md (real / modified checks).
PER_REQUIREMENT = {
    "1B_intentional_human_speech": (143, 432),
    "1B_human_pronoun": (106, 200),
    "1C_identity_transparency": (48, 161),
    "2A_fabricated_personal_information": (37, 148),
    "2B_emotion_expression": (112, 246),
    "2C_deference": (59, 205),
    "2C_flattery_tone": (206, 381),
    "2D_human_relationship_encouragement": (21, 132),
    "3A_engagement_hooks": (228, 282),
}
LABELS_PER_PROMPT = {1: 155, 2: 223, 3: 220, 4: 153, 5: 103, 6: 64, 7: 37, 8: 10, 9: 4}


def test_real_file_counts(benchmark):
    p, c = benchmark.prompts, benchmark.checks
    assert len(p) == 969
    assert p["source"].value_counts().to_dict() == {"modified": 647, "real": 322}
    assert len(c) == 3147
    assert c["source"].value_counts().to_dict() == {"modified": 2187, "real": 960}
    table = c.groupby(["requirement", "source"]).size().unstack()
    for key, (real, modified) in PER_REQUIREMENT.items():
        assert (table.loc[key, "real"], table.loc[key, "modified"]) == (real, modified), key
    assert p["n_requirements"].value_counts().to_dict() == LABELS_PER_PROMPT
    assert benchmark.sha256 == "7d84c0fbb3d1ca7483a9afdab9bdf2216e1858ce2393311363e916958606fd6f"


def test_prompt_ids_are_stable_and_unique(benchmark):
    p = benchmark.prompts
    assert p["prompt_id"].is_unique
    first = p.iloc[0]
    assert first["prompt_id"] == prompt_id_for(first["text"])
    # the id does not depend on position: reversing the file gives the same ids
    assert set(c for c in benchmark.checks["prompt_id"]) == set(p["prompt_id"])


def test_metadata_columns(benchmark):
    p = benchmark.prompts
    real = p[p.source == "real"]
    modified = p[p.source == "modified"]
    assert real["rewriter_model"].isna().all()
    assert set(modified["rewriter_model"]) == {"Gemini3.1pro", "Opus4.6", "GPT5.4"}
    assert set(real["responder_model"]) == {"GPT-4"}
    assert set(modified["responder_model"]) == {"GPT-4o", "Sonnet4", "Gemini2.0Flash"}
    assert all(list(r) == [k for k in REQUIREMENT_KEYS if k in r] for r in p["requirements"])


def _write(tmp_path: Path, lines: list[str], name: str = "bench.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _row(**over) -> str:
    row = {"user_input": "hello there", "measure": ["2B_emotion_expression"], "synthetic": False,
           "language": "English", "rewriter_model": "N/A", "responser_model": "GPT-4"}
    row.update(over)
    return json.dumps(row)


@pytest.mark.parametrize(
    ("bad_line", "field", "fragment"),
    [
        ("{not json", None, "invalid JSON"),
        ("[1, 2]", None, "expected a JSON object"),
        (_row(user_input=""), "user_input", "empty prompt"),
        (_row(user_input=12), "user_input", "expected a string"),
        (_row(measure=["9Z_made_up"]), "measure", "unknown requirement '9Z_made_up'"),
        (_row(measure=[]), "measure", "non-empty list"),
        (_row(synthetic="yes"), "synthetic", "expected true or false"),
        (json.dumps({"user_input": "x", "synthetic": False}), "measure", "missing"),
    ],
)
def test_bad_line_names_file_line_and_field(tmp_path, bad_line, field, fragment):
    path = _write(tmp_path, [_row(user_input="first prompt"), bad_line, _row(user_input="third")])
    with pytest.raises(DatasetError) as info:
        load_benchmark(path)
    err = info.value
    assert err.line == 2 and err.field == field
    message = str(err)
    assert str(path) in message and "line 2" in message and fragment in message
    if field:
        assert repr(field) in message


def test_duplicate_prompt_names_both_lines(tmp_path):
    path = _write(tmp_path, [_row(user_input="same"), _row(user_input="other"), _row(user_input="same")])
    with pytest.raises(DatasetError, match=r"line 3: field 'user_input': duplicate prompt: .* line 1"):
        load_benchmark(path)


def test_empty_file(tmp_path):
    path = _write(tmp_path, ["", "   "])
    with pytest.raises(DatasetError, match="holds no prompts"):
        load_benchmark(path)


def test_extra_fields_are_kept(tmp_path):
    path = _write(tmp_path, [_row(user_input="a", difficulty="hard"), _row(user_input="b", synthetic=True, rewriter_model="GPT5.4")])
    bench = load_benchmark(path)
    assert list(bench.prompts["difficulty"].fillna("-")) == ["hard", "-"]
    assert list(bench.prompts["source"]) == ["real", "modified"]
    assert list(bench.checks["requirement"]) == ["2B_emotion_expression"] * 2


def test_lookup_order_env_then_cache(tmp_path, monkeypatch, dataset_path):
    monkeypatch.setenv("EUDAIMONIA_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("EUDAIMONIA_DATASET", raising=False)
    with pytest.raises(DatasetNotFoundError, match="eudaimonia-nb fetch"):
        load_benchmark()
    monkeypatch.setenv("EUDAIMONIA_DATASET", str(dataset_path))
    assert len(load_benchmark().prompts) == 969
    small = _write(tmp_path, [_row()])
    assert len(load_benchmark(small).prompts) == 1  # an explicit path wins over the environment
