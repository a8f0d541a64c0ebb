"""The dashboard's Noise tab: present only while the loaded runs have epochs or judge repeats."""

from __future__ import annotations

from fault_server import FaultServer, Script

from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.runner import run
from eudaimonia_nb.report import DataSource, Options
from eudaimonia_nb.widgets.dashboard import Dashboard


def test_the_noise_tab_appears_with_repeats_and_goes_without(benchmark, tmp_path):
    store = tmp_path / "s.sqlite"
    prompts = tuple(benchmark.prompts.groupby("source").head(15)["prompt_id"])
    with FaultServer(Script(response_variants=4, judge_flip=0.2, seed=3)) as server:
        common = dict(base_url=server.base_url, judge_model="j", judge_base_url=server.base_url, api_key_env=None,
                      judge_api_key_env=None, prompt_ids=prompts, store_path=str(store))
        repeated = run(RunConfig(model="sampled", epochs=2, judge_repeats=2, **common), benchmark=benchmark, progress=False)
        plain = run(RunConfig(model="plain", **common), benchmark=benchmark, progress=False)

    board = Dashboard(DataSource("store", store, (repeated.run_id, plain.run_id)), options=Options(n_boot=100))
    assert "noise" in board.tab_keys and "Noise" in board.tab_bar.titles
    assert board.tab_bar.titles.index("Noise") == board.tab_keys.index("noise")
    board.select_tab("noise")
    tab = board.tabs["noise"]
    assert set(tab.figures) == {"noise_shares", "noise_flips", "noise_widths"}
    assert "per extra call" in tab.notes.value and "sampled" in tab.notes.value
    shares = tab.figures["noise_shares"]
    assert {t.name for t in shares.data} >= {"Judge (between calls on one response)"}
    # Another tab reads one verdict per check and says how it was made.
    board.select_tab("leaderboard")
    assert "reducer <code>mean</code>" in board.tabs["leaderboard"].notes.value

    board.run_ids.value = plain.run_id
    assert board.load()
    assert "noise" not in board.tab_keys and "Noise" not in board.tab_bar.titles
    assert board.selected_key == "leaderboard"
