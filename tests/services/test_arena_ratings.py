"""Arena ratings: Bradley-Terry as FastChat fits it, recovered from simulated votes, with bootstrap intervals that
shrink as votes come in, the online Elo-style table, and the awkward cases (no vote, one vote, groups that never
met, three or four panes)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from services.arena_ratings import (
    INIT_RATING,
    MIN_BATTLES,
    Battle,
    battles_from_votes,
    leaderboard,
    online_elo,
)
from services.store.arena import ALL_BAD, TIE, WIN


@dataclass(frozen=True)
class Vote:
    deployments: tuple[str, ...]
    verdict: str
    winner_index: int | None = None


def win(winner: str, *others: str) -> Vote:
    return Vote((winner, *others), WIN, 0)


def simulate(strengths: dict[str, float], count: int, seed: int = 7) -> list[Vote]:
    """Two-pane votes between random pairs, each won with the Bradley-Terry probability of the true ratings."""
    rng = np.random.default_rng(seed)
    names = list(strengths)
    votes = []
    for _ in range(count):
        first, second = rng.choice(len(names), 2, replace=False)
        a, b = names[first], names[second]
        p_a = 1.0 / (1.0 + 10 ** ((strengths[b] - strengths[a]) / 400))
        votes.append(Vote((a, b), WIN, 0 if rng.random() < p_a else 1))
    return votes


TRUE = {"gpt-4o": 1250.0, "phi": 1100.0, "mistral": 1000.0, "smollm": 800.0}


def test_the_fit_recovers_known_strengths_from_simulated_votes() -> None:
    board = leaderboard(simulate(TRUE, 6000))
    assert board.deployments == ["gpt-4o", "phi", "mistral", "smollm"]
    fitted = {s.deployment: s.rating for s in board.standings}
    for a in TRUE:
        for b in TRUE:
            assert fitted[a] - fitted[b] == pytest.approx(TRUE[a] - TRUE[b], abs=30), (a, b)
    assert sum(fitted.values()) / len(fitted) == pytest.approx(INIT_RATING)
    # With this many votes each true (centred) rating lies inside its interval, and the ranks are all distinct.
    centre = sum(TRUE.values()) / len(TRUE) - INIT_RATING
    for standing in board.standings:
        assert standing.lower <= TRUE[standing.deployment] - centre <= standing.upper, standing
    assert [s.rank for s in board.standings] == [1, 2, 3, 4]
    assert not board.needs_more_votes


def test_ratings_equal_fastchats_logistic_regression_on_duplicated_battles_with_ties() -> None:
    votes = simulate(TRUE, 300, seed=3) + [Vote(("phi", "smollm"), TIE), Vote(("gpt-4o", "mistral"), ALL_BAD)] * 5
    battles = battles_from_votes(votes)
    models = sorted({b.a for b in battles} | {b.b for b in battles})
    rows, labels = [], []
    for battle in battles:  # FastChat: each battle twice; a tie once as a win for a, once as a win for b
        row = np.zeros(len(models))
        row[models.index(battle.a)], row[models.index(battle.b)] = math.log(10), -math.log(10)
        rows += [row, row]
        labels += [1, 0] if battle.score == 0.5 else [battle.score, battle.score]
    fit = LogisticRegression(fit_intercept=False, C=1.0, tol=1e-12, max_iter=10_000).fit(rows, labels)
    expected = dict(zip(models, 400 * fit.coef_[0] + 1000, strict=True))
    for standing in leaderboard(votes).standings:
        assert standing.rating == pytest.approx(expected[standing.deployment], abs=0.01)


def test_intervals_shrink_as_votes_come_in() -> None:
    votes = simulate(TRUE, 4000)
    widths = []
    for count in (40, 400, 4000):
        board = leaderboard(votes[:count])
        widths.append({s.deployment: s.upper - s.lower for s in board.standings})
    for name in TRUE:
        assert widths[0][name] > widths[1][name] > widths[2][name], name
    assert max(widths[2].values()) < 40


def test_no_vote_gives_an_empty_board() -> None:
    board = leaderboard([])
    assert board.standings == () and board.win_rate.shape == (0, 0)
    assert (board.votes, board.battles) == (0, 0) and board.needs_more_votes


def test_one_vote_gives_the_winner_the_higher_rating_with_wide_overlapping_intervals() -> None:
    board = leaderboard([win("phi", "mistral")])
    top, bottom = board.standings
    assert (top.deployment, bottom.deployment) == ("phi", "mistral")
    assert math.isfinite(top.rating) and top.rating > INIT_RATING > bottom.rating
    assert top.upper - top.lower > 600 and bottom.upper - bottom.lower > 600
    assert top.lower < bottom.upper and top.rank == bottom.rank == 1  # nothing is settled by one vote
    assert (top.wins, top.losses, bottom.wins, bottom.losses, top.votes) == (1, 0, 0, 1, 1)
    assert (top.online, bottom.online) == (1002.0, 998.0)
    assert board.needs_more_votes and board.battles < MIN_BATTLES


def test_a_deployment_that_never_lost_still_gets_a_finite_rating() -> None:
    board = leaderboard([win("phi", "mistral")] * 50 + [win("mistral", "smollm")] * 50)
    ratings = {s.deployment: s for s in board.standings}
    assert all(math.isfinite(s.rating) and math.isfinite(s.upper) for s in board.standings)
    assert ratings["phi"].rating > ratings["mistral"].rating > ratings["smollm"].rating


def test_deployments_that_never_met_form_separate_groups_each_centred() -> None:
    votes = [win("a", "b")] * 30 + [win("b", "a")] * 10 + [win("c", "d")] * 10 + [win("d", "c")] * 30
    board = leaderboard(votes)
    found = {s.deployment: s for s in board.standings}
    assert board.groups == 2
    assert found["a"].group == found["b"].group != found["c"].group == found["d"].group
    assert found["a"].rating + found["b"].rating == pytest.approx(2 * INIT_RATING)
    assert found["c"].rating + found["d"].rating == pytest.approx(2 * INIT_RATING)
    order = board.deployments
    assert math.isnan(board.win_rate[order.index("a"), order.index("c")])
    assert board.win_rate[order.index("a"), order.index("b")] == pytest.approx(0.75)


def test_a_vote_for_one_of_three_panes_beats_both_others_and_a_tie_ties_every_pair() -> None:
    battles = battles_from_votes([Vote(("a", "b", "c"), WIN, 1), Vote(("a", "b", "c"), ALL_BAD)])
    assert battles == [
        Battle("b", "a", 1.0),
        Battle("b", "c", 1.0),
        Battle("a", "b", 0.5, True),
        Battle("a", "c", 0.5, True),
        Battle("b", "c", 0.5, True),
    ]
    board = leaderboard([Vote(("a", "b", "c", "d"), WIN, 3), Vote(("a", "b", "c", "d"), TIE)])
    found = {s.deployment: s for s in board.standings}
    assert (found["d"].wins, found["d"].ties, found["d"].votes, found["d"].battles) == (3, 3, 2, 6)
    assert (found["a"].losses, found["a"].ties, found["a"].all_bad) == (1, 3, 0)
    assert board.deployments[0] == "d" and board.battles == 9 and board.votes == 2


def test_two_panes_on_one_deployment_never_battle_each_other() -> None:
    assert battles_from_votes([Vote(("phi", "phi", "mistral"), WIN, 0)]) == [Battle("phi", "mistral", 1.0)]
    assert battles_from_votes([Vote(("phi", "phi"), TIE)]) == []
    assert leaderboard([Vote(("phi", "phi"), WIN, 1)]).standings == ()


def test_online_elo_moves_by_k_times_surprise_as_fastchat_compute_elo() -> None:
    assert online_elo([Battle("a", "b", 1.0)]) == {"a": 1002.0, "b": 998.0}
    assert online_elo([Battle("a", "b", 0.5)]) == {"a": 1000.0, "b": 1000.0}
    after = online_elo([Battle("a", "b", 1.0), Battle("a", "b", 0.0)])
    expected_a = 1 / (1 + 10 ** ((998 - 1002) / 400))
    assert after["a"] == pytest.approx(1002 + 4 * (0 - expected_a))
    assert after["a"] + after["b"] == pytest.approx(2000.0)


def test_the_same_votes_give_the_same_figures_and_rounds_are_bounded() -> None:
    votes = simulate(TRUE, 200)
    first, second = leaderboard(votes), leaderboard(votes)
    assert first.standings == second.standings
    assert np.array_equal(first.win_rate, second.win_rate, equal_nan=True)
    assert leaderboard(votes, rounds=10**9).rounds == 1000 and leaderboard(votes, rounds=0).rounds == 1
