"""The comparison's plain data: pane histories, metrics with the best value, blind labels, votes, HTML export."""

from __future__ import annotations

import datetime as dt
import html.parser

import pytest
from pydantic import SecretStr

from services.compare_export import export_html
from services.compare_model import (
    ALL_BAD,
    BLIND_LABELS,
    TIE,
    PaneReply,
    PaneSnapshot,
    Turn,
    best_panes,
    blind_labels,
    conversation_rows,
    last_turn_rows,
    pane_messages,
    reply_from_snapshot,
    vote_tally,
)
from services.config import Deployment
from services.errors import AuthenticationError
from services.schemas import ChatResult, Metrics, Usage

KEY = "sk-very-secret-export-key"


def metrics(ttft: float, total: float, out: int, finish: str = "stop") -> Metrics:
    usage = Usage(prompt_tokens=10, completion_tokens=out, total_tokens=10 + out)
    return Metrics(
        ttft_s=ttft, total_s=total, tokens_per_s=out / total, request_id="r", usage=usage, finish_reason=finish
    )


def reply(pid: str, dep: str, text: str, m: Metrics | None, cost: float | None = None, **kw) -> PaneReply:
    return PaneReply(
        pane_id=pid, deployment=dep, text=text, status=kw.pop("status", "done"), metrics=m, cost=cost, **kw
    )


@pytest.fixture
def turns() -> list[Turn]:
    return [
        Turn(
            "first?",
            {
                "a": reply("a", "alpha", "A1", metrics(0.2, 1.0, 20), 0.002),
                "b": reply("b", "beta", "B1", metrics(0.1, 2.0, 30), 0.001),
            },
            vote="b",
        ),
        Turn(
            "second?",
            {
                "a": reply("a", "alpha", "A2", metrics(0.4, 1.0, 10), 0.001),
                "b": reply("b", "beta", "", None, status="error", error=RuntimeError("boom")),
            },
            vote=TIE,
        ),
    ]


def test_each_pane_sends_only_its_own_history_with_the_new_prompt(turns):
    messages = pane_messages(turns, "a", "Be brief.", "third?")
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first?"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "second?"},
        {"role": "assistant", "content": "A2"},
        {"role": "user", "content": "third?"},
    ]
    # A turn the pane failed (no answer at all) leaves its prompt out too: resending it would fail again, and it
    # would put two user messages in a row.
    assert [m["content"] for m in pane_messages(turns, "b", "", "third?")] == ["first?", "B1", "third?"]


def test_last_turn_metrics_mark_the_best_value_per_column(turns):
    rows = last_turn_rows(turns[:1], ["a", "b"])
    assert rows[0].values["TTFT (s)"] == 0.2 and rows[1].values["Tokens out"] == 30
    best = best_panes(rows)
    assert best["TTFT (s)"] == {"b"}
    assert best["Total (s)"] == {"a"}
    assert best["Tokens/s"] == {"a"}  # 20 tokens in 1 s beats 30 in 2 s
    assert best["Cost ($)"] == {"b"}
    assert "Tokens out" not in best and "Finish" not in best


def test_conversation_metrics_sum_time_tokens_and_cost_and_count_finish_reasons(turns):
    rows = {r.pane_id: r.values for r in conversation_rows(turns, ["a", "b"])}
    assert rows["a"]["Total (s)"] == pytest.approx(2.0)
    assert rows["a"]["Tokens out"] == 30
    assert rows["a"]["Cost ($)"] == pytest.approx(0.003)
    assert rows["a"]["TTFT (s)"] == pytest.approx(0.3)
    assert rows["a"]["Tokens/s"] == pytest.approx(15.0)
    assert rows["a"]["Finish"] == "stop×2"
    assert rows["b"]["Finish"] in ("stop×1, error×1", "error×1, stop×1")
    assert best_panes(list(conversation_rows(turns, ["a", "b"])))["Cost ($)"] == {"b"}


def test_best_needs_two_values_and_ties_mark_both():
    rows = last_turn_rows([Turn("q", {"a": reply("a", "x", "t", metrics(0.1, 1.0, 5), 0.0)})], ["a", "b"])
    assert best_panes(rows) == {}
    tie = Turn("q", {p: reply(p, p, "t", metrics(0.1, 1.0, 5)) for p in ("a", "b")})
    assert best_panes(last_turn_rows([tie], ["a", "b"]))["Total (s)"] == {"a", "b"}


def test_blind_labels_are_a_shuffled_deterministic_permutation():
    panes = ["p1", "p2", "p3", "p4"]
    labels = blind_labels(panes, seed=7)
    assert sorted(labels.values()) == list(BLIND_LABELS)
    assert blind_labels(panes, seed=7) == labels
    orders = {tuple(blind_labels(panes, seed=s)[p] for p in panes) for s in range(20)}
    assert len(orders) > 1, "labels never shuffle, so the order would give the deployments away"


def test_vote_tally_counts_deployments_ties_and_all_bad(turns):
    turns.append(Turn("third", dict(turns[0].replies), vote=ALL_BAD))
    turns.append(Turn("fourth", dict(turns[0].replies), vote=None))
    assert vote_tally(turns) == {"beta": 1, TIE: 1, ALL_BAD: 1}


def test_reply_from_snapshot_prices_usage_and_keeps_stopped_text():
    dep = Deployment(name="priced", endpoint="http://x.example", price_per_1k_input=1.0, price_per_1k_output=2.0)
    usage = Usage(prompt_tokens=1000, completion_tokens=500, total_tokens=1500)
    result = ChatResult(content="partial", usage=usage, metrics=metrics(0.1, 1.0, 500), stopped=True)
    snap = PaneSnapshot("p", "priced", "stopped", "partial", (1.0,), 0.0, 1.0, result, None)
    frozen = reply_from_snapshot(snap, dep, system_prompt="sys", params={"temperature": 0.2})
    assert frozen.text == "partial" and frozen.status == "stopped"
    assert frozen.cost == pytest.approx(2.0)
    assert frozen.params == {"temperature": 0.2} and frozen.system_prompt == "sys"
    # A deployment removed while its pane streamed keeps the answer, just without a price.
    gone = reply_from_snapshot(snap, None)
    assert gone.deployment == "priced" and gone.text == "partial" and gone.cost is None


class _Checker(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            assert not (name in ("src", "href") and value and value.startswith("http")), "external resource"


def test_export_is_one_self_contained_html_with_turns_params_metrics_votes_and_no_key(turns):
    deps = {
        "alpha": Deployment(name="alpha", endpoint="http://a.example", key=SecretStr(KEY)),
        "beta": Deployment(name="beta", endpoint="http://b.example"),
    }
    turns[0].replies["a"].params = {"temperature": 0.3, "note": f"pasted {KEY} by mistake"}
    turns[0].replies["a"].text = "<script>alert(1)</script>"
    turns[1].replies["b"].error = AuthenticationError("bad key", deployment="beta", status=401)
    page = export_html(
        turns,
        ["a", "b"],
        {"a": "alpha", "b": "beta"},
        deps,
        tally=vote_tally(turns),
        now=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
    )
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert KEY not in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    for expected in ("first?", "second?", "B1", "A2", "temperature", "0.3", "beta was better", "tie", "★", "bad key"):
        assert expected in page, expected
    assert "Summed over the conversation" in page and "Vote tally" in page
    checker = _Checker()
    checker.feed(page)
    assert "script" not in checker.tags and "link" not in checker.tags


def test_export_while_blind_shows_labels_not_deployment_names(turns):
    names = {"a": "Model B", "b": "Model A"}
    page = export_html(turns, ["a", "b"], names, {}, tally=None)
    assert "alpha" not in page and "beta" not in page
    assert "Model A was better" in page
