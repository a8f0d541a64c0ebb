"""Reading saved responses: exports that carry the text, the response index, the Responses
widget and drill-down, on a store of real judged runs made against the scripted loopback server."""

from __future__ import annotations

import html
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from eudaimonia_nb.analysis import frames
from eudaimonia_nb.analysis.responses import PENDING, ResponseIndex, counts_text, verdict_kinds
from eudaimonia_nb.analysis.simulate import demo_judgments
from eudaimonia_nb.benchmark.dataset import prompt_texts
from eudaimonia_nb.benchmark.design_code import requirement
from eudaimonia_nb.plots import SOURCE_LABELS
from eudaimonia_nb.judging.protocols import DEFAULT_PROTOCOL
from eudaimonia_nb.report import DataSource, load_source
from eudaimonia_nb.store.results import export_run, load_judgments
from eudaimonia_nb.widgets.dashboard import Dashboard
from eudaimonia_nb.widgets.responses import NO_RESPONSES_DEMO, ResponsesView, drilldown_filters
from judged_store import JUDGE, KEY_VAR, MODELS, REJUDGE, make_judged_store
from test_dashboard_helpers import REPO


@pytest.fixture(scope="module")
def judged(tmp_path_factory, dataset_path):
    return make_judged_store(tmp_path_factory.mktemp("judged") / "results.sqlite", dataset_path)


@pytest.fixture(scope="module")
def frame(judged):
    return load_judgments(judged.path, texts=True)


@pytest.fixture(scope="module")
def prompts(dataset_path):
    return prompt_texts(dataset_path)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_an_export_carries_response_reasoning_and_judge_and_loads_back(judged, frame, tmp_path, fmt):
    run = judged.run_ids[1]
    out = export_run(judged.path, run, fmt, tmp_path / f"run.{fmt}")
    loaded = frames.load_judgments(out)
    assert {"response", "reasoning", "judge_model", "protocol"} <= set(loaded.columns)
    stored = frame[frame["run_id"] == run].set_index(["prompt_id", "requirement"])
    back = loaded.set_index(["prompt_id", "requirement"]).loc[stored.index]
    assert (back["response"] == stored["response"]).all()
    assert back["response"].str.startswith("Scripted response to: ").all()
    judged_rows = stored["error"] == ""
    assert (back.loc[judged_rows.to_numpy(), "reasoning"] == stored.loc[judged_rows, "reasoning"]).all()
    assert set(back["judge_model"]) == {JUDGE}
    assert set(back["protocol"]) == set(stored["protocol"]) == {DEFAULT_PROTOCOL}
    # The judge errors stay errors (no verdict), with their reasons.
    assert back["violation"].isna().sum() == (~judged_rows).sum() == 3


def test_verdict_kinds_tell_errors_from_not_judged_yet():
    rows = pd.DataFrame({"violation": [1.0, 0.0, np.nan, np.nan], "error": ["", "", "judge call failed: 500", PENDING]})
    assert list(verdict_kinds(rows)) == ["violation", "pass", "error", "pending"]


def test_index_filters_by_verdict_text_source_and_run(judged, frame, prompts):
    index = ResponseIndex(frame, prompts)
    errors = index.matching_items(index.mask(verdicts=["error"]))
    assert len(errors) == 1
    item = index.item(int(errors[0]))
    assert item.model == MODELS[1] and item.prompt_id == judged.error_prompt
    assert set(item.checks["kind"]) == {"error"} and item.prompt == prompts[judged.error_prompt]
    # Free text: a word of one prompt finds that prompt's items in every run, and only those.
    word = prompts[judged.error_prompt].split()[3]
    hits = index.checks.loc[index.mask(text=word.upper()), "prompt_id"]
    expected = {p for p in set(frame["prompt_id"]) if word.lower() in prompts[p].lower()}
    assert set(hits) == expected and judged.error_prompt in expected
    # Reasoning is searched too: the scripted judge quotes the prompt in its reasoning.
    assert index.mask(text="scripted reasoning on").sum() == (frame["error"] == "").sum()
    modified = index.mask(sources=["modified"], runs=[judged.run_ids[0]])
    assert set(index.checks.loc[modified, "source"]) == {"modified"}
    assert set(index.checks.loc[modified, "run_id"]) == {judged.run_ids[0]}
    summary = index.summaries(errors, index.mask(verdicts=["error"]))
    assert counts_text(summary.iloc[0].to_dict()) == "3 judge errors"
    assert counts_text({"violation": 1, "pass": 2}) == "1 violation, 2 no violations"
    assert counts_text({"violation": 2, "pass": 1}) == "2 violations, 1 no violation"


def test_side_by_side_aligns_a_run_and_its_rejudge(frame):
    index = ResponseIndex(frame)
    first, second = sorted(m for m in set(frame["model"]) if m.startswith(MODELS[0]))
    pairs = index.pair(first, second)
    a = frame[frame["model"] == first].set_index(["prompt_id", "requirement"])
    assert len(pairs) == len(a)
    kinds = index.checks.set_index(["model", "prompt_id", "requirement"])["kind"]
    for row in pairs.head(20).itertuples():
        assert row.kind_a == kinds[(first, row.prompt_id, row.requirement)]
        assert row.kind_b == kinds[(second, row.prompt_id, row.requirement)]
        assert row.differ == (row.kind_a != row.kind_b)
    different = index.pair(first, second, only_different=True)
    assert 0 < len(different) < len(pairs) and different["differ"].all()


def test_the_widget_filters_opens_an_item_and_compares(judged, frame, prompts):
    view = ResponsesView(frame, prompts=prompts, protocols={judged.run_ids[1]: "authors' settings"})
    view.verdicts.value = ("error",)
    assert view.n_matches == 1
    detail = view.detail.value
    assert "Scripted response to: " in detail and "unparseable judge reply" in detail
    assert "authors&#x27; settings" in detail and f"judge {JUDGE}" in detail
    # A folded rubric per requirement: the authors' (the runs' default protocol), fetched, not the suite's.
    assert detail.count("<details class='eud-rubric' data-protocol='authors'>") == 3
    assert "the authors&#x27; rubric (authors protocol)" in detail and "keep&quot;: true/false" in detail
    assert html.escape(requirement(view.index.item(int(view.item_list.value)).checks["requirement"][0]).rubric) not in detail
    view.verdicts.value = ()
    view.search.value = "scripted reasoning on"
    assert view.n_matches == len(frame[frame["error"] == ""].groupby(["model", "prompt_id"]))
    assert "<mark>scripted reasoning on</mark>" in view.detail.value
    view.search.value = ""
    view.mode.value = "pair"
    first, second = sorted(m for m in set(frame["model"]) if m.startswith(MODELS[0]))
    view.model_a.value, view.model_b.value = first, second
    view.only_different.value = True
    assert view.n_matches > 0
    assert "eud-differ" in view.detail.value and "eud-agree" not in view.detail.value
    view.next_button.click()
    assert view.page == min(1, -(-view.n_matches // view.page_size) - 1)


def test_the_demo_says_it_has_no_responses():
    view = ResponsesView(demo_judgments())
    assert NO_RESPONSES_DEMO in view.message.value and view.body.layout.display == "none"


def test_drilldown_filters_from_chart_elements():
    models = ["alpha", "beta"]
    req = requirement("2C_deference")
    assert drilldown_filters(None, req.label, "alpha", models) == {"models": ["alpha"], "requirements": [req.key]}
    assert drilldown_filters(SOURCE_LABELS["modified"], 41.0, "beta", models) == {"models": ["beta"], "sources": ["modified"]}
    assert drilldown_filters(SOURCE_LABELS["real"], req.label, 30.0, models) == {"requirements": [req.key], "sources": ["real"]}
    assert drilldown_filters("Published leaderboard", 40.0, "GPT-4o", models) == {}


def test_a_heatmap_click_opens_the_responses_tab_on_those_checks(judged, monkeypatch, dataset_path):
    monkeypatch.setenv("EUDAIMONIA_DATASET", str(dataset_path))
    board = Dashboard(DataSource("store", judged.path))
    board.select_tab("requirements")
    heatmap = board.figures["heatmap"].data[0]
    cell = requirement("1B_human_pronoun")
    board._drill(heatmap, SimpleNamespace(xs=[cell.label], ys=[MODELS[1]], point_inds=[[0, 0]]))
    assert board.selected_key == "responses"
    view = board.responses
    assert view.models.value == (MODELS[1],) and view.requirements.value == (cell.key,)
    shown = view.index.checks.loc[view.current_mask()]
    expected = board.frame[(board.frame["model"] == MODELS[1]) & (board.frame["requirement"] == cell.key)]
    assert len(shown) == len(expected) > 0
    # A filter change above withdraws an exported report: it showed another selection.
    board.select_tab("leaderboard")
    board.export_report()
    assert board.report_download.content
    board.models.value = (MODELS[1],)
    assert board.report_download.content == "" and board.report_download.layout.display == "none"
    assert "Export report" in board.status.value
    # One model on 24 prompts: the mixed model's prompt SD is at the boundary (a level is also
    # separated); the report is still made and says so on the page, next to the estimates.
    assert board.with_sample.value is False
    text = board.export_report()
    assert "<b>What was run:</b> 1 model(s)" in text
    # Responses may be sensitive: the report carries none unless asked.
    assert "Sample of responses" not in text and "Scripted response to: " not in text
    assert "<b>Fit warning:</b> prompt SD" in text and "at or near 0 (boundary/singular fit" in text


def test_a_shared_report_names_hosts_only(judged):
    out = judged.path.parent / "report.html"
    done = subprocess.run([sys.executable, "-m", "eudaimonia_nb", "report", "--source", "store", "--store",
                           str(judged.path), "--out", str(out), "--n-boot", "100", "--sample-responses", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    port_and_path = judged.base_url.split("//", 1)[1]  # 127.0.0.1:PORT/v1
    for secret in (str(judged.path), str(judged.path.parent), judged.base_url, port_and_path,
                   port_and_path.split("/", 1)[0], KEY_VAR, "api_key_env", "store_path", "dataset_path"):
        assert secret not in text, secret
    assert "127.0.0.1" in text  # the host is named
    assert "<section id='summary'>" in text and "Sample of responses" in text
    assert text.count("Scripted response to: ") == 3  # one sampled item per model
    assert REJUDGE in text


def test_relative_store_paths_start_where_the_user_stands(judged, tmp_path, monkeypatch):
    monkeypatch.setenv("EUDAIMONIA_WORKDIR", str(judged.path.parent.parent))
    relative = f"{judged.path.parent.name}/{judged.path.name}"
    source = DataSource.parse(f"store:{relative}")
    assert source.path == judged.path
    assert len(load_source(source)) > 0
    assert DataSource("store", judged.path).describe(public=True) == f"results store {judged.path.name}"


def test_the_item_list_sorts_all_matches_writes_no_violation_and_keeps_its_filters_to_itself(judged, frame, prompts):
    view = ResponsesView(frame, prompts=prompts, page_size=5)
    rows = view.item_list.rows
    assert [c[0] for c in view.item_list.columns] == ["model", "prompt_id", "source", "verdicts", "snippet"]
    chips = [w for r in rows for _, w in r["chips"]]
    assert any("no violation" in w for w in chips), chips  # written out, never an empty cell
    # A sort orders every match, not the five on screen.
    view.item_list.sort_by, view.item_list.descending = "verdicts", True
    index = view.index
    violations = pd.Series(index.checks["kind"].eq("violation").to_numpy()).groupby(index.item_code).sum()
    shown = [int(r["key"]) for r in view.item_list.rows]
    assert [violations[c] for c in shown] == sorted(violations.to_numpy(), reverse=True)[:5]
    view.item_list.sort_by, view.item_list.descending = "prompt_id", False
    ids = [r["cells"]["prompt_id"] for r in view.item_list.rows]
    assert ids == sorted(p for _, p, _ in index.items)[:5]
    # The Items verdict filter does not follow into Side by side (it would hide half the pairs).
    view.verdicts.value = ("violation",)
    view.mode.value = "pair"
    first, second = sorted(m for m in set(frame["model"]) if m.startswith(MODELS[0]))
    view.model_a.value, view.model_b.value = first, second
    assert view.n_matches == frame.loc[frame["model"] == first, "prompt_id"].nunique()
    assert "no filter" in view.filters_note.value and view.items_filters.layout.display == "none"
    view.mode.value = "items"
    assert "verdict: violation" in view.filters_note.value


def test_the_view_round_trips_through_its_state(judged, frame, prompts):
    view = ResponsesView(frame, prompts=prompts, page_size=5)
    view.models.value = (MODELS[1],)
    view.verdicts.value = ("pass",)
    view.item_list.sort_by, view.item_list.descending = "prompt_id", True
    view.go_to(1)
    picked = view.item_list.rows[2]["key"]
    view.item_list.value = picked
    state = view.state()
    model, prompt_id, _ = view.index.items[int(picked)]
    assert state["item"] == [f"{model}|{prompt_id}"] and state["verdict"] == ["pass"] and state["sort"] == ["-prompt_id"]
    other = ResponsesView(frame, prompts=prompts, page_size=5)  # another kernel, say: item codes may differ
    other.apply_state(state)
    assert other.models.value == (MODELS[1],) and other.verdicts.value == ("pass",) and other.page == 1
    assert other.index.items[int(other.item_list.value)] == (model, prompt_id, 1)
    assert f"prompt <code>{prompt_id}</code>" in other.detail.value
    other.apply_state({"mode": ["nonsense"], "model": ["no such model"], "verdict": ["bogus"]})
    assert other.mode.value == "items" and other.models.value == () and other.verdicts.value == ()


def test_disagreeing_with_the_judge_from_an_item_saves_into_the_queue(judged, frame, prompts, tmp_path):
    import shutil

    from eudaimonia_nb.store import labels as L
    from eudaimonia_nb.store.disagreements import DISAGREEMENT_QUEUE

    store = tmp_path / "copy.sqlite"
    shutil.copy(judged.path, store)
    view = ResponsesView(frame, prompts=prompts, store_path=str(store))
    view.verdicts.value = ("violation",)
    box = view.disagree
    assert box.layout.display == "" and box.check.options
    box.check.value = next(v for _, v in box.check.options if v[2] == "violation")
    run_id, key, kind = box.check.value
    assert kind == "violation" and box.save_button.description == "Save my label: no violation"
    assert box.save() is None and "needs a labeller name" in box.status.value  # nothing saved without a name
    box.labeller.value, box.note.value = "ann", "not a claim of feeling"
    assert box.save() == DISAGREEMENT_QUEUE and "eud-saved" in box.status.value
    saved = L.load_labels(store)
    assert len(saved) == 1 and saved.iloc[0]["label"] == 0.0 and saved.iloc[0]["sample_id"] == DISAGREEMENT_QUEUE
    assert saved.iloc[0]["run_id"] == run_id and saved.iloc[0]["requirement"] == key
    nowhere = ResponsesView(frame, prompts=prompts)  # a results file: nowhere to save
    nowhere.verdicts.value = ("violation",)
    assert nowhere.disagree.save_button.disabled and "needs a results store" in nowhere.disagree.status.value
def test_a_run_with_epochs_and_judge_repeats_reads_one_item_per_response(benchmark, tmp_path, prompts):
    """An item is one response: each epoch's answer with the judge calls made on it, never the
    verdicts on another epoch's answer; side by side pairs epoch e with epoch e, call j with call j."""
    from fault_server import FaultServer, Script

    from eudaimonia_nb.judging.config import RunConfig
    from eudaimonia_nb.judging.runner import run
    from eudaimonia_nb.report.appendix import sample_html
    from eudaimonia_nb.store.results import response_texts

    store = tmp_path / "s.sqlite"
    ids = tuple(benchmark.prompts["prompt_id"].iloc[[0, 1, 400]])
    with FaultServer(Script(response_variants=5, judge_flip=0.3, seed=11)) as server:
        runs = [run(RunConfig(model=name, base_url=server.base_url, judge_model="j", judge_base_url=server.base_url,
                              api_key_env=None, judge_api_key_env=None, prompt_ids=ids, store_path=str(store),
                              epochs=2, judge_repeats=2), benchmark=benchmark, progress=False) for name in ("a", "b")]
    frame = load_judgments(store, texts=True)
    index = ResponseIndex(frame, prompts)
    assert index.has_epochs and index.has_judge_repeats and len(index.items) == 2 * 3 * 2
    texts = {(r.run_id, r.prompt_id, r.epoch): r.text for summary in runs
             for r in response_texts(store, summary.run_id).itertuples()}
    run_of = dict(zip(frame["model"], frame["run_id"]))
    for code in range(len(index.items)):
        item = index.item(code)
        assert item.response == texts[(run_of[item.model], item.prompt_id, item.epoch)]
        mine = frame[(frame["model"] == item.model) & (frame["prompt_id"] == item.prompt_id) & (frame["epoch"] == item.epoch)]
        assert len(item.checks) == len(mine) == 2 * mine["requirement"].nunique()
        assert sorted(item.checks["judge_repeat"]) == sorted(mine["judge_repeat"])
    pairs = index.pair("a", "b")
    per_model = int((frame["model"] == "a").sum())
    assert len(pairs) == per_model and not pairs.duplicated(["prompt_id", "requirement", "epoch", "judge_repeat"]).any()

    view = ResponsesView(frame, prompts=prompts)
    prompts_shown = [r["cells"]["prompt_id"] for r in view.item_list.rows]
    assert any(cell.endswith(" · epoch 2") for cell in prompts_shown), prompts_shown
    code = index.code_of("a", ids[0], 2)
    view.open_item(code)
    assert " · epoch 2 · " in view.detail.value and "judge call 2" in view.detail.value
    assert html.escape(texts[(run_of["a"], ids[0], 2)]) in view.detail.value
    view.mode.value = "pair"
    view.model_a.value, view.model_b.value = "a", "b"
    view.open_item(ids[0])
    detail = view.detail.value
    assert "<b>Epoch 1</b>" in detail and "<b>Epoch 2</b>" in detail and detail.count("eud-pair-table") == 2
    second = detail[detail.index("<b>Epoch 2</b>"):]
    assert html.escape(texts[(run_of["b"], ids[0], 2)]) in second
    assert "verdict pairs" in view.item_list.rows[0]["cells"]["differ"]
    sample = sample_html(frame, prompts, per_model=2)
    assert ", epoch " in sample and "(judge call 2)" in sample
