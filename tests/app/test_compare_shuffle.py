"""Blind mode's shuffle per turn: panes change places each turn, and a vote or a metrics row still belongs to the
pane that showed the label at that turn."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.components.compare_state import CompareState
from services.compare_model import Turn, blind_labels
from services.config import Deployment
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks

TOKENS = {"fast": 3, "slow": 8}


def _script() -> None:
    from pages.compare import render

    render()


@pytest.fixture
def at(fault_server: FaultServer) -> AppTest:
    deployments = {
        name: Deployment(
            name=name,
            endpoint=fault_server.scenario(Reply(sse=chat_chunks([f"{name}{i} " for i in range(n)]))).endpoint,
            max_retries=0,
        )
        for name, n in TOKENS.items()
    }
    app = AppTest.from_function(_script, default_timeout=30)
    app.session_state["deployments_added"] = deployments
    app.query_params["panes"] = "fast,slow"
    return app.run()


def _seed_that_swaps(uids: list[str]) -> int:
    """A seed whose first two turns deal the labels differently (searched, so the test does not rely on luck)."""
    return next(s for s in range(1000) if blind_labels(uids, s, turn=1) != blind_labels(uids, s, turn=2))


def _pane_order(at: AppTest) -> list[str]:
    """Pane ids in the order the columns show them (each pane draws its sync switch)."""
    return [t.key.split(".")[1] for t in at.toggle if t.key.endswith(".sync")]


def _check_turn(at: AppTest, state: CompareState, turn: int) -> dict[str, str]:
    """The labels dealt for `turn` are the ones shown, in label order, and the metrics rows belong to them."""
    expected = blind_labels([p.uid for p in state.panes], state.blind_seed, turn=turn)
    assert state.labels() == expected
    order = sorted(expected, key=expected.__getitem__)
    assert _pane_order(at) == order
    rows = at.dataframe[0].value
    assert list(rows["Pane"]) == ["Model A", "Model B"]
    for label, tokens in zip(rows["Pane"], rows["Tokens out"], strict=True):
        uid = next(u for u, shown in expected.items() if shown == label)
        assert int(tokens.rstrip(" ★")) == TOKENS[state.pane(uid).deployment]
    return expected


def test_a_shuffled_turn_moves_the_panes_and_each_vote_names_the_pane_that_showed_the_label(at):
    at.toggle(key="compare.blind").set_value(True).run()
    at.toggle(key="compare.shuffle").set_value(True).run()
    state: CompareState = at.session_state["compare.state"]
    assert state.shuffle
    state.blind_seed = _seed_that_swaps([p.uid for p in state.panes])

    at.chat_input(key="compare.input").set_value("first").run()
    first = _check_turn(at, state, 1)
    at.radio(key="compare.vote.0").set_value("Model A").run()
    assert state.turns[0].vote == next(uid for uid, label in first.items() if label == "Model A")

    at.chat_input(key="compare.input").set_value("second").run()
    second = _check_turn(at, state, 2)
    assert second != first and _pane_order(at) != sorted(first, key=first.__getitem__)
    at.radio(key="compare.vote.1").set_value("Model A").run()
    assert state.turns[1].vote == next(uid for uid, label in second.items() if label == "Model A")
    assert state.turns[0].vote != state.turns[1].vote  # the same label, another pane
    # Revealed, each vote counts for the deployment that was behind the label at its turn.
    at.button(key="compare.reveal").click().run()
    assert state.tally() == {
        state.pane(state.turns[0].vote).deployment: 1,
        state.pane(state.turns[1].vote).deployment: 1,
    }


def test_without_the_shuffle_the_labels_stay_put_for_the_whole_conversation():
    state = CompareState(blind=True, blind_seed=_seed_that_swaps(["p1", "p2"]))
    state.add_pane("fast")
    state.add_pane("slow")
    before = state.labels()
    state.turns += [Turn("one"), Turn("two")]
    assert state.labels() == before
    state.shuffle = True
    assert state.labels() == blind_labels(["p1", "p2"], state.blind_seed, turn=2)
    assert [p.uid for p in state.display_order()] == sorted(["p1", "p2"], key=state.labels().__getitem__)
