"""The per-turn shuffle of blind labels: every turn deals a full set of labels afresh, reproducibly."""

from __future__ import annotations

from collections import Counter

from services.compare_model import BLIND_LABELS, blind_labels

PANES = ["p1", "p2", "p3"]


def test_every_turn_deals_each_label_to_exactly_one_pane():
    for seed in (0, 7, 123_456):
        for turn in range(30):
            labels = blind_labels(PANES, seed, turn=turn)
            assert set(labels) == set(PANES)
            assert sorted(labels.values()) == list(BLIND_LABELS[: len(PANES)])


def test_turn_zero_is_the_deal_without_shuffle_and_every_deal_can_be_worked_out_again():
    assert blind_labels(PANES, 7, turn=0) == blind_labels(PANES, 7)
    assert [blind_labels(PANES, 7, turn=t) for t in range(1, 10)] == [
        blind_labels(PANES, 7, turn=t) for t in range(1, 10)
    ]


def test_over_the_turns_every_pane_is_shown_first_and_no_deal_repeats_the_last_forever():
    firsts = Counter(
        next(pid for pid, label in blind_labels(PANES, 7, turn=t).items() if label == "Model A") for t in range(1, 41)
    )
    assert set(firsts) == set(PANES), firsts  # each pane takes the first position on some turns
    assert max(firsts.values()) < 30, firsts  # and none keeps it
    deals = {tuple(sorted(blind_labels(PANES, 7, turn=t).items())) for t in range(1, 41)}
    assert len(deals) >= 4, deals
