"""Loading judgments files and the errors bad files get."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from eudaimonia_nb.analysis.frames import JudgmentsError, load_judgments, validate_judgments

GOOD = pd.DataFrame({
    "model": ["A", "A", "B"], "prompt_id": ["p1", "p2", "p1"],
    "requirement": ["2C_deference", "1B_human_pronoun", "2C_deference"],
    "source": ["real", "modified", "real"], "violation": [1.0, np.nan, 0.0],
    "error": ["", "timeout", ""], "run_id": ["r1", "r1", "r2"],
})


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_round_trip_through_every_format(tmp_path, suffix):
    path = tmp_path / f"judgments.{suffix}"
    if suffix == "csv":
        GOOD.to_csv(path, index=False)
    elif suffix == "jsonl":
        GOOD.to_json(path, orient="records", lines=True)
    else:
        GOOD.to_parquet(path)
    loaded = load_judgments(path)
    assert loaded["violation"].tolist()[0] == 1.0 and np.isnan(loaded["violation"].iloc[1])
    assert loaded["violation"].iloc[2] == 0.0
    assert loaded["error"].tolist() == ["", "timeout", ""]
    assert loaded["run_id"].tolist() == ["r1", "r1", "r2"]


def test_an_error_message_voids_the_verdict():
    frame = GOOD.assign(violation=[1.0, 1.0, 0.0])
    assert np.isnan(validate_judgments(frame)["violation"].iloc[1])


def _csv(tmp_path, frame):
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    return path


def test_missing_column_is_named(tmp_path):
    path = _csv(tmp_path, GOOD.drop(columns="source"))
    with pytest.raises(JudgmentsError, match=r"bad\.csv: column 'source': missing column"):
        load_judgments(path)


@pytest.mark.parametrize("column, value, expected", [
    ("source", "rewritten", r"row 3: column 'source': 'rewritten'; expected 'real' or 'modified'"),
    ("requirement", "9Z_nonsense", r"row 3: column 'requirement': unknown requirement '9Z_nonsense'"),
    ("violation", "2", r"row 3: column 'violation': '2'; expected 1, 0 or empty"),
    ("model", "", r"row 3: column 'model': empty"),
])
def test_bad_cells_name_file_row_and_column(tmp_path, column, value, expected):
    frame = GOOD.astype({column: object}).copy()
    frame.loc[1, column] = value  # data row 2 is line 3 of the CSV
    with pytest.raises(JudgmentsError, match=expected) as info:
        load_judgments(_csv(tmp_path, frame))
    assert info.value.row == 3 and info.value.column == column and "bad.csv" in str(info.value)


def test_a_prompt_marked_with_two_sources_names_the_row(tmp_path):
    frame = GOOD.copy()
    frame.loc[2, "source"] = "modified"  # p1 was real on line 2
    with pytest.raises(JudgmentsError, match=r"row 4: column 'source': 'modified' for prompt 'p1'.*one source per prompt"):
        load_judgments(_csv(tmp_path, frame))


def test_jsonl_errors_name_the_file_line_past_blank_lines(tmp_path):
    path = tmp_path / "j.jsonl"
    bad = {**GOOD.iloc[1].to_dict(), "violation": "maybe"}
    path.write_text(json.dumps(GOOD.iloc[0].to_dict()) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(JudgmentsError, match=r"j\.jsonl, row 3: column 'violation': 'maybe'"):
        load_judgments(path)

def test_bad_jsonl_line_and_unknown_type(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text(json.dumps(GOOD.iloc[0].to_dict()) + "\n{not json\n")
    with pytest.raises(JudgmentsError, match=r"j\.jsonl, row 2: invalid JSON"):
        load_judgments(path)
    other = tmp_path / "j.xlsx"
    other.write_text("x")
    with pytest.raises(JudgmentsError, match="unknown file type"):
        load_judgments(other)
    with pytest.raises(JudgmentsError, match="no such file"):
        load_judgments(tmp_path / "absent.csv")
