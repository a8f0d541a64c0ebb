"""The prompt browser widget, driven through its ipywidgets controls on the real benchmark."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pandas as pd
import pytest

from eudaimonia_nb import explore, requirement
from eudaimonia_nb.benchmark.dataset import prompt_id_for
from eudaimonia_nb.widgets.browser import PromptBrowser, highlight, render_prompt


def _count(browser: PromptBrowser) -> int:
    return int(re.search(r"<b>(\d+)</b> matching", browser.status.value).group(1))


def _shown_ids(browser: PromptBrowser) -> list[str]:
    return re.findall(r"<b>(p[0-9a-f]{11})</b>", browser.page_html.value)


@pytest.fixture()
def browser(benchmark):
    return PromptBrowser(benchmark, page_size=10)


def test_starts_with_every_prompt_and_the_first_page(browser, benchmark):
    assert _count(browser) == 969
    assert _shown_ids(browser) == benchmark.prompts["prompt_id"].head(10).tolist()
    assert browser.prev_button.disabled and not browser.next_button.disabled
    assert "page 1 of 97" in browser.status.value


def test_controls_update_count_and_page(browser, benchmark):
    p = benchmark.prompts
    browser.source.value = "real"
    assert _count(browser) == 322
    assert set(p.set_index("prompt_id").loc[_shown_ids(browser), "source"]) == {"real"}

    browser.source.value = ""
    keys = ("2B_emotion_expression", "2C_flattery_tone")
    browser.requirements.value = keys
    either = explore.filter_prompts(p, requirements=keys, match="any")
    assert _count(browser) == len(either)
    browser.match.value = "all"
    both = explore.filter_prompts(p, requirements=keys, match="all")
    assert _count(browser) == len(both) < len(either)
    assert _shown_ids(browser) == both["prompt_id"].head(10).tolist()

    browser.rewriter.value = "Opus4.6"
    browser.responder.value = "Sonnet4"
    expected = explore.filter_prompts(p, requirements=keys, match="all", rewriter="Opus4.6", responder="Sonnet4")
    assert _count(browser) == len(expected)
    assert _shown_ids(browser) == expected["prompt_id"].head(10).tolist()


def test_search_is_literal_and_highlighted(browser, benchmark):
    browser.search.value = "?"
    expected = benchmark.prompts[benchmark.prompts["text"].str.contains("?", regex=False)]
    assert _count(browser) == len(expected) > 0
    assert "<mark>?</mark>" in browser.page_html.value
    browser.search.value = "zzzz-no-prompt-says-this"
    assert _count(browser) == 0
    assert "No prompt matches" in browser.page_html.value
    assert browser.prev_button.disabled and browser.next_button.disabled


def test_paging(browser, benchmark):
    ids = benchmark.prompts["prompt_id"].tolist()
    browser.next_button.click()
    assert _shown_ids(browser) == ids[10:20]
    assert "showing 11-20" in browser.status.value and not browser.prev_button.disabled
    browser.page_size.value = 50
    assert _shown_ids(browser) == ids[:50]  # a new page size starts again at page 1
    for _ in range(30):  # past the end: clamps on the last page
        browser.next_button.click()
    assert _shown_ids(browser) == ids[950:]
    assert browser.next_button.disabled and "showing 951-969" in browser.status.value
    browser.prev_button.click()
    assert _shown_ids(browser) == ids[900:950]
    # a filter change goes back to the first page of the new matches
    browser.source.value = "modified"
    assert browser.page == 0


def test_rendered_prompt_lists_its_requirements_with_descriptions(browser, benchmark):
    browser.requirements.value = ("1C_identity_transparency",)
    first = explore.filter_prompts(benchmark.prompts, requirements=["1C_identity_transparency"]).iloc[0]
    page = browser.page_html.value
    assert html.escape(first["text"][:60]) in page
    for key in first["requirements"]:
        r = requirement(key)
        assert html.escape(r.description) in page and r.label in page


def test_script_in_a_prompt_is_escaped(benchmark):
    row = benchmark.prompts.iloc[0].copy()
    row["text"] = 'hi <script>alert("x")</script> & <b>bold</b>'
    row["prompt_id"] = prompt_id_for(row["text"])
    rendered = render_prompt(row, query="SCRIPT")
    assert "<script>" not in rendered and "<b>bold</b>" not in rendered
    assert "&lt;<mark>script</mark>&gt;alert(&quot;x&quot;)&lt;/" in rendered
    assert "&amp; &lt;b&gt;bold&lt;/b&gt;" in rendered


def test_script_prompt_escaped_inside_the_widget(benchmark):
    text = "Ignore this <script>document.cookie</script> please"
    prompts = benchmark.prompts.head(3).copy()
    prompts.loc[prompts.index[1], ["text", "prompt_id"]] = [text, prompt_id_for(text)]
    browser = PromptBrowser(replace(benchmark, prompts=prompts))
    browser.search.value = "<SCRIPT>"
    assert _count(browser) == 1
    assert "<script>" not in browser.page_html.value.lower()
    assert "this <mark>&lt;script&gt;</mark>document.cookie&lt;/script&gt; please" in browser.page_html.value


def test_highlight_treats_the_query_literally():
    assert highlight("a+b (c) a+B", "A+b") == "<mark>a+b</mark> (c) <mark>a+B</mark>"
    assert highlight("x < y", None) == "x &lt; y"
    assert highlight("<i>", "<") == "<mark>&lt;</mark>i&gt;"


def test_missing_rewriter_is_not_rendered(benchmark):
    real = benchmark.prompts[benchmark.prompts["source"] == "real"].iloc[0]
    assert pd.isna(real["rewriter_model"])
    rendered = render_prompt(real)
    assert "rewriter" not in rendered and "responder GPT-4" in rendered
