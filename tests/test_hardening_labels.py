"""Issue 24, points 5 and 6, and issue 23, point 2: label files and the designs behind them.

`labels import` reads Excel's byte-order mark, refuses undecodable bytes, binary files, huge
fields and disagreeing duplicates with the file and line, streams the file, reports rows and
distinct labels; a file without inclusion probabilities is refused unless `--design srs` is
declared, and that design is stored and shown by `validity` (text and JSON), `report --source
store` and the dashboard's Judge validity tab. Weights are checked per stratum, and two import
batches on one run give a corrected rate inside [0, 1] and inside its own interval."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from validity_helpers import JUDGED_RUN, label_sample, make_validity_store

from eudaimonia_nb.store import labels as L
from eudaimonia_nb.store.results import load_judgments
from eudaimonia_nb.validity.measures import compute_validity, item_weights, judged_checks

CLI = [sys.executable, "-m", "eudaimonia_nb"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, env=dict(os.environ))


def _one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in done.stderr, done.stderr
    return lines[0]


@pytest.fixture()
def store(tmp_path, benchmark) -> Path:
    path = tmp_path / "results.sqlite"
    make_validity_store(path, benchmark)
    return path


def _checks(store: Path, run_id: str = JUDGED_RUN) -> pd.DataFrame:
    frame = load_judgments(store, [run_id])
    return frame[frame["violation"].notna()].reset_index(drop=True)


def _srs_file(store: Path, path: Path, n: int = 60, seed: int = 3, rule=lambda verdict: 0) -> pd.DataFrame:
    """A simple random sample of the run's judged checks, labelled by ``rule``, as a file with no
    inclusion_probability column (what a hand-made label file looks like)."""
    checks = _checks(store).sample(n, random_state=seed)
    rows = pd.DataFrame({"run_id": checks["run_id"], "prompt_id": checks["prompt_id"],
                         "requirement": checks["requirement"], "labeller": "ann",
                         "label": [rule(v) for v in checks["violation"]]})
    rows.to_csv(path, index=False)
    return rows


# --- issue 23, point 2: a file without inclusion probabilities -------------------------------

def test_a_file_without_probabilities_is_refused_unless_declared_srs_then_equal_weights(store, tmp_path):
    path = tmp_path / "hand-made.csv"
    rows = _srs_file(store, path)
    refused = _one_line_error(_cli("labels", "import", str(path), "--store", str(store)))
    assert str(path) in refused and "inclusion_probability" in refused and "--design srs" in refused
    assert L.load_labels(store).empty
    bad = tmp_path / "not-a-number.csv"
    rows.assign(inclusion_probability=["0.5"] * 3 + ["one half"] + ["0.5"] * 56).to_csv(bad, index=False)
    refused = _one_line_error(_cli("labels", "import", str(bad), "--store", str(store)))
    assert f"{bad}, line 5: inclusion_probability 'one half': expected a number in (0, 1]" in refused

    done = _cli("labels", "import", str(path), "--store", str(store), "--design", "srs", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows"] == summary["distinct"] == 60 and summary["designs"] == {"srs": 60}
    labels = L.load_labels(store)
    assert (labels["design"] == "srs").all() and labels["inclusion_probability"].isna().all()

    # Equal weights: N / n for every labelled check of the run.
    checks = judged_checks(store, [JUDGED_RUN])
    weights = item_weights(labels, checks)
    assert len(weights) == 60 and np.allclose(weights["weight"], len(checks) / 60)
    assert len(rows) == 60


@pytest.mark.parametrize("how", ["declared", "unrecorded"])
def test_srs_labels_through_validity_text_json_report_and_the_dashboard_tab(store, tmp_path, how):
    """``declared``: imported with ``--design srs``; ``unrecorded``: labels without probabilities
    stored before designs were recorded (today's main crashes on these: ``TypeError ... log1p``)."""
    from eudaimonia_nb.report import DataSource, Options
    from eudaimonia_nb.widgets.dashboard import Dashboard

    path = tmp_path / "hand-made.csv"
    rows = _srs_file(store, path)
    if how == "declared":
        assert _cli("labels", "import", str(path), "--store", str(store), "--design", "srs").returncode == 0
    else:
        for r in rows.itertuples():
            L.save_label(store, run_id=r.run_id, prompt_id=r.prompt_id, requirement=r.requirement, labeller="ann",
                         label=r.label)
    design_name = "srs" if how == "declared" else "unrecorded"

    text = _cli("validity", "--store", str(store), "--run", JUDGED_RUN, "--n-boot", "50")
    assert text.returncode == 0, text.stderr
    assert "Label samples" in text.stdout and f"[{JUDGED_RUN}]: {design_name}; 60 labels; used" in text.stdout
    # Every label says "no violation": a corrected rate of 0.0% with its interval (the summary
    # line reads "violation rate: judge 31.6%, corrected 0.0% [0.0, 10.7]").
    assert re.search(r"corrected 0\.0% \[0\.0, \d+\.\d\]", text.stdout), text.stdout
    assert ("imported before label designs were recorded" in text.stdout) == (how == "unrecorded")

    done = _cli("validity", "--store", str(store), "--run", JUDGED_RUN, "--n-boot", "50", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    [model] = data["models"]
    assert model["n_labels"] == 60 and model["ci_low"] <= model["corrected_rate"] <= model["ci_high"]
    [design] = data["designs"]
    assert design["design"] == design_name and design["n_labels"] == 60 and design["used"] is True
    assert design["sample_id"].startswith("import-srs-" if how == "declared" else "unrecorded-import as srs")

    out = tmp_path / "report.html"
    report = _cli("report", "--source", "store", "--store", str(store), "--run", JUDGED_RUN, "--n-boot", "20",
                  "--out", str(out))
    assert report.returncode == 0, report.stderr
    page = out.read_text(encoding="utf-8")
    assert "Label samples and their designs" in page and design["sample_id"] in page

    board = Dashboard(DataSource("store", store, (JUDGED_RUN,)), options=Options(n_boot=20))
    board.select_tab("validity")
    tab = board.tabs["validity"]
    assert "eud-error" not in tab.status.value, tab.status.value
    tables = {t.name: t.frame for t in board.sections["validity"].tables}
    assert list(tables["label_designs"]["design"]) == [design_name]
    assert tables["validity_rates"].iloc[0]["n_labels"] == 60
    checks = judged_checks(store, [JUDGED_RUN])  # equal weights either way
    assert np.allclose(item_weights(L.load_labels(store), checks)["weight"], len(checks) / 60)


def test_a_stratified_sample_round_trips_with_its_design(store, tmp_path, benchmark):
    label_sample(store, "ann", lambda verdict, _: verdict)
    out = tmp_path / "labels.csv"
    assert _cli("labels", "export", str(out), "--store", str(store)).returncode == 0
    exported = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert set(exported["design"]) == {"stratified"}
    other = tmp_path / "other.sqlite"
    make_validity_store(other, benchmark)
    done = _cli("labels", "import", str(out), "--store", str(other))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("40 rows, 40 distinct labels imported from") and "40 stratified" in done.stdout
    assert (L.load_labels(other)["design"] == "stratified").all()
    # A file that says srs for rows carrying probabilities contradicts itself.
    exported.assign(design="srs").to_csv(out, index=False)
    refused = _one_line_error(_cli("labels", "import", str(out), "--store", str(other)))
    assert f"{out}, line 2:" in refused and "design srs" in refused


# --- issue 24, point 5: input edges -----------------------------------------------------------

def _exported(store: Path, tmp_path: Path) -> tuple[Path, bytes]:
    label_sample(store, "ann", lambda verdict, _: verdict, size=10)
    out = tmp_path / "labels.csv"
    assert _cli("labels", "export", str(out), "--store", str(store)).returncode == 0
    return out, out.read_bytes()


def _fresh(tmp_path: Path, benchmark, name: str) -> Path:
    path = tmp_path / f"{name}.sqlite"
    make_validity_store(path, benchmark)
    return path


def test_excel_byte_order_mark_is_read(store, tmp_path, benchmark):
    _, body = _exported(store, tmp_path)
    bom = tmp_path / "excel.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + body.replace(b"\n", b"\r\n"))  # Excel's "CSV UTF-8"
    target = _fresh(tmp_path, benchmark, "bom")
    done = _cli("labels", "import", str(bom), "--store", str(target))
    assert done.returncode == 0, done.stderr
    assert len(L.load_labels(target)) == 10


def test_undecodable_binary_and_huge_fields_name_file_and_line(store, tmp_path, benchmark):
    out, body = _exported(store, tmp_path)
    lines = body.decode("utf-8").splitlines(keepends=True)
    target = _fresh(tmp_path, benchmark, "edges")

    cp1252 = tmp_path / "cp1252.csv"
    third = lines[3].rstrip("\r\n").split(",")
    third[5] = "caf\u00e9 na\u00efve"  # the note column
    cp1252.write_bytes("".join(lines[:3]).encode() + (",".join(third) + "\n").encode("cp1252")
                       + "".join(lines[4:]).encode())
    message = _one_line_error(_cli("labels", "import", str(cp1252), "--store", str(target)))
    assert f"{cp1252}, line 4: bytes b'\\xe9" in message and "not UTF-8" in message

    binary = tmp_path / "labels.xlsx.csv"
    binary.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 40)
    message = _one_line_error(_cli("labels", "import", str(binary), "--store", str(target)))
    assert f"{binary}, line 1:" in message

    nul = tmp_path / "nul.csv"
    nul.write_bytes(body.replace(b"\n", b"\x00\n", 3))
    assert f"{nul}, line " in _one_line_error(_cli("labels", "import", str(nul), "--store", str(target)))

    huge = tmp_path / "huge.csv"
    third[5] = "x" * 200_000
    huge.write_text("".join(lines[:3]) + ",".join(third) + "\n" + "".join(lines[4:]), encoding="utf-8")
    message = _one_line_error(_cli("labels", "import", str(huge), "--store", str(target)))
    assert f"{huge}, line 4: a field longer than 131,072 characters" in message
    assert L.load_labels(target).empty  # nothing of any of them was written


def test_duplicates_that_disagree_are_refused_naming_both_lines(store, tmp_path, benchmark):
    out, body = _exported(store, tmp_path)
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    target = _fresh(tmp_path, benchmark, "dupes")

    agreeing = pd.concat([frame, frame.iloc[[2]]], ignore_index=True)
    path = tmp_path / "agreeing.csv"
    agreeing.to_csv(path, index=False)
    done = _cli("labels", "import", str(path), "--store", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"11 rows, 10 distinct labels imported from {path}")

    disagreeing = agreeing.copy()
    disagreeing.loc[10, "label"] = "1" if disagreeing.loc[2, "label"] == "0" else "0"
    path = tmp_path / "disagreeing.csv"
    disagreeing.to_csv(path, index=False)
    fresh = _fresh(tmp_path, benchmark, "dupes2")
    message = _one_line_error(_cli("labels", "import", str(path), "--store", str(fresh)))
    assert f"{path}, line 12: the same check and labeller as line 4" in message and "different label" in message
    assert L.load_labels(fresh).empty


_IMPORT_MEMORY = """
import sys
from pathlib import Path

from eudaimonia_nb.store import label_files, labels, results  # noqa: F401  (imported before measuring)


def kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])


before = kib("VmRSS")
Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS
label_files.import_labels(sys.argv[2], sys.argv[1])
print((kib("VmHWM") - before) / 1024)
"""


def _import_peak_mb(file: Path, store: Path) -> float:
    """Peak resident memory added while ``import_labels`` runs, in a fresh process (Linux)."""
    done = subprocess.run([sys.executable, "-c", _IMPORT_MEMORY, str(file), str(store)], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return float(done.stdout.strip().splitlines()[-1])


def test_a_large_label_file_is_streamed_not_held_in_memory(store, tmp_path, benchmark):
    checks = _checks(store)
    note = "n" * 1000
    frame = pd.concat([pd.DataFrame({"run_id": checks["run_id"], "prompt_id": checks["prompt_id"],
                                     "requirement": checks["requirement"], "labeller": f"person-{i}",
                                     "label": checks["violation"].astype(int), "note": note,
                                     "inclusion_probability": 1.0})  # every judged check labelled
                       for i in range(90)], ignore_index=True)
    big = tmp_path / "big.csv"
    frame.to_csv(big, index=False)
    small = tmp_path / "small.csv"
    frame.head(50).to_csv(small, index=False)
    size_mb = big.stat().st_size / 2**20
    assert size_mb > 15
    baseline = _import_peak_mb(small, _fresh(tmp_path, benchmark, "small"))
    target = _fresh(tmp_path, benchmark, "big")
    peak = _import_peak_mb(big, target)
    print(f"import of {size_mb:.1f} MB: peak memory added {peak:.1f} MB; the same import of 50 rows {baseline:.1f} MB")
    assert peak - baseline < size_mb / 4
    assert len(L.load_labels(target)) == len(frame)


# --- issue 24, point 6: weights per stratum, two batches on one run -----------------------------

def test_probabilities_claiming_more_checks_than_a_stratum_holds_are_refused(store, tmp_path, benchmark):
    out, _ = _exported(store, tmp_path)
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    frame["inclusion_probability"] = "0.001"
    path = tmp_path / "too-small.csv"
    frame.to_csv(path, index=False)
    target = _fresh(tmp_path, benchmark, "strata")
    message = _one_line_error(_cli("labels", "import", str(path), "--store", str(target)))
    assert str(path) in message and f"sample {frame['sample_id'].iloc[0]}" in message
    assert f"run {JUDGED_RUN}, requirement " in message and "add up to" in message and "that stratum holds" in message
    assert L.load_labels(target).empty


def test_two_import_batches_on_one_run_stay_inside_zero_one_and_their_interval(store, tmp_path, benchmark):
    target = _fresh(tmp_path, benchmark, "batches")
    truth_rule = lambda verdict, _: 1 - verdict  # a person who turns every verdict: truth = 1 - raw rate  # noqa: E731
    for labeller, seed in (("ann", 1), ("bob", 2)):
        label_sample(store, labeller, truth_rule, size=60, seed=seed)
    out = tmp_path / "all.csv"
    assert _cli("labels", "export", str(out), "--store", str(store)).returncode == 0
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    for labeller in ("ann", "bob"):  # two batches, as two people's files without sample ids
        path = tmp_path / f"{labeller}.csv"
        frame[frame["labeller"] == labeller].drop(columns=["sample_id", "design"], errors="ignore").to_csv(path, index=False)
        assert _cli("labels", "import", str(path), "--store", str(target)).returncode == 0
    result = compute_validity(target, [JUDGED_RUN], n_boot=20)
    row = result.models.iloc[0]
    raw = row["raw_rate"]
    assert 0 <= row["ci_low"] <= row["corrected_rate"] <= row["ci_high"] <= 1
    assert row["corrected_rate"] == pytest.approx(1 - raw, abs=0.08)
    assert len(result.designs) == 2 and set(result.designs["design"]) == {"stratified"}


def test_a_stored_sample_whose_weights_overshoot_is_left_out_with_a_note(store):
    checks = _checks(store).head(12)
    for r in checks.itertuples():
        L.save_label(store, run_id=r.run_id, prompt_id=r.prompt_id, requirement=r.requirement, labeller="eve",
                     label=1, sample_id="legacy-batch", inclusion_probability=0.0005)
    result = compute_validity(store, [JUDGED_RUN], n_boot=20)
    assert any(n.startswith("Sample legacy-batch: its inclusion probabilities add up to") for n in result.notes)
    assert result.models.iloc[0]["n_labels"] == 0
    assert list(result.designs["used"]) == [False]


def test_labeller_names_with_bidi_or_control_characters_are_refused(store, tmp_path, benchmark):
    checks = _checks(store).head(1).iloc[0]
    for name in ("alice\u202eevil", "bob\x07", "carol\u2066x", "dan\nx"):
        with pytest.raises(L.LabelsError, match="U\\+"):
            L.save_label(store, run_id=checks.run_id, prompt_id=checks.prompt_id, requirement=checks.requirement,
                         labeller=name, label=1)
    path = tmp_path / "bidi.csv"
    pd.DataFrame({"run_id": [checks.run_id], "prompt_id": [checks.prompt_id], "requirement": [checks.requirement],
                  "labeller": ["alice\u202eevil"], "label": ["1"]}).to_csv(path, index=False)
    message = _one_line_error(_cli("labels", "import", str(path), "--store", str(store), "--design", "srs"))
    assert f"{path}, line 2: labeller" in message and "U+202E" in message
    assert L.load_labels(store).empty
