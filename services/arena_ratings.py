"""Ratings from arena votes, the way LMArena (lm-sys/FastChat `fastchat/serve/monitor/elo_analysis.py`) fits them.

A vote becomes pairwise battles: a vote for pane X is X beating every other pane of the turn; a tie or "all bad" is
every pair of the turn tied (FastChat's "tie" and "tie (bothbad)", each half a win for both sides). Two panes on one
deployment never battle each other.

- Bradley-Terry: the logistic fit of P(a beats b) = 1 / (1 + BASE^((R_b - R_a) / SCALE)) on the battles, ties as
  half a win each, on FastChat's scale (SCALE 400, BASE 10, INIT_RATING 1000). Like FastChat's `fit_mle_elo`
  (scikit-learn's LogisticRegression with its default L2 penalty, C=1, on each battle written twice) the fit carries
  a small Gaussian prior, so a deployment that never lost still gets a finite rating and separate groups of
  deployments that never met are each centred on INIT_RATING.
- 95% intervals: percentiles 2.5 and 97.5 of the fit over bootstrap rounds that resample the battles (FastChat's
  multinomial resampling of the distinct outcomes). A handful of battles resamples into the same few and the interval
  collapses (one vote: zero width), so an interval is never narrower than the normal approximation of the fit's own
  curvature: few votes, wide intervals.
- The online Elo-style table: battles replayed in time order with K=4 (FastChat's `compute_elo`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.special import expit

from services.store.arena import ALL_BAD, WIN

SCALE = 400.0
BASE = 10.0
INIT_RATING = 1000.0
K_FACTOR = 4.0
# The L2 weight per battle: scikit-learn's default (C=1) on FastChat's duplicated battle rows is half of one.
PRIOR = 0.5
DEFAULT_ROUNDS = 200
MAX_ROUNDS = 1000
# Below this many battles for some deployment, the page says that more votes are needed.
MIN_BATTLES = 20
_Z95 = 1.959964
_MAX_NEWTON = 60
_MAX_STEP = 2.0  # natural units (800 rating points): a Newton step never jumps further


class VoteLike(Protocol):
    """What a vote must say to be counted (services.store.arena.ArenaVote)."""

    @property
    def deployments(self) -> tuple[str, ...]: ...
    @property
    def verdict(self) -> str: ...
    @property
    def winner_index(self) -> int | None: ...


@dataclass(frozen=True)
class Battle:
    """One pairwise result: `score` 1.0 when `a` won, 0.0 when `b` won, 0.5 for a tie (`both_bad` for "all bad")."""

    a: str
    b: str
    score: float
    both_bad: bool = False


@dataclass(frozen=True)
class Standing:
    """One deployment's line: the Bradley-Terry rating with its 95% interval, its rank (1 + how many deployments are
    better beyond doubt: their lower bound above this upper bound, as LMArena ranks), the online Elo-style rating,
    and its battles (wins + losses + ties + all_bad) from `votes` votes; `group` numbers the set of deployments
    connected by battles (ratings compare only within one group)."""

    deployment: str
    rating: float
    lower: float
    upper: float
    rank: int
    online: float
    wins: int
    losses: int
    ties: int
    all_bad: int
    battles: int
    votes: int
    group: int


@dataclass(frozen=True)
class Leaderboard:
    """The standings best first, the pairwise win rates (row beat column, ties left out; NaN where they never met
    without a tie) in the same order, and what they were computed from."""

    standings: tuple[Standing, ...]
    win_rate: np.ndarray
    votes: int
    battles: int
    rounds: int
    groups: int

    @property
    def deployments(self) -> list[str]:
        """The deployments in standing order (the win-rate matrix's rows and columns)."""
        return [s.deployment for s in self.standings]

    @property
    def needs_more_votes(self) -> bool:
        """True while some deployment has fewer than MIN_BATTLES battles (or nothing was voted yet)."""
        return not self.standings or min(s.battles for s in self.standings) < MIN_BATTLES


def battles_from_votes(votes: Iterable[VoteLike]) -> list[Battle]:
    """The pairwise battles of the votes, in vote order (a vote for a pane beats each other pane; a tie or all bad
    ties every pair); pairs of panes on one deployment are left out."""
    battles: list[Battle] = []
    for vote in votes:
        names = vote.deployments
        if vote.verdict == WIN and vote.winner_index is not None:
            winner = names[vote.winner_index]
            battles += [Battle(winner, other, 1.0) for other in names if other != winner]
            continue
        both_bad = vote.verdict == ALL_BAD
        for i, first in enumerate(names):
            battles += [Battle(first, second, 0.5, both_bad) for second in names[i + 1 :] if second != first]
    return battles


def online_elo(battles: Iterable[Battle], *, k: float = K_FACTOR) -> dict[str, float]:
    """Ratings after replaying the battles in order, each moving both sides by k x (result - expected)."""
    rating: dict[str, float] = {}
    for battle in battles:
        ra, rb = rating.get(battle.a, INIT_RATING), rating.get(battle.b, INIT_RATING)
        expected_a = 1.0 / (1.0 + BASE ** ((rb - ra) / SCALE))
        rating[battle.a] = ra + k * (battle.score - expected_a)
        rating[battle.b] = rb + k * ((1.0 - battle.score) - (1.0 - expected_a))
    return rating


@dataclass(frozen=True)
class _Matchups:
    """The distinct (a, b, score) outcomes and how often each happened (FastChat's preprocessing)."""

    models: list[str]
    pairs: np.ndarray  # (U, 2) model indices
    scores: np.ndarray  # (U,)
    counts: np.ndarray  # (U,)

    @property
    def design(self) -> np.ndarray:
        """(U, n): +1 for a, -1 for b."""
        matrix = np.zeros((len(self.pairs), len(self.models)))
        rows = np.arange(len(self.pairs))
        matrix[rows, self.pairs[:, 0]] = 1.0
        matrix[rows, self.pairs[:, 1]] = -1.0
        return matrix


def _matchups(battles: Sequence[Battle]) -> _Matchups:
    models = sorted({b.a for b in battles} | {b.b for b in battles})
    index = {name: i for i, name in enumerate(models)}
    table = np.array([(index[b.a], index[b.b], round(b.score * 2)) for b in battles], dtype=np.int64)
    distinct, counts = np.unique(table, axis=0, return_counts=True)
    return _Matchups(models, distinct[:, :2], distinct[:, 2] / 2.0, counts.astype(np.float64))


def _fit(design: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Penalised Bradley-Terry fits by Newton's method, one per row of `weights` (R, U): the ratings (R, n) in
    natural units and the Hessians (R, n, n) at them."""
    alpha = math.log(BASE)
    rounds, n = weights.shape[0], design.shape[1]
    ratings = np.zeros((rounds, n))
    eye = np.eye(n) * PRIOR
    hessian = np.broadcast_to(eye, (rounds, n, n)).copy()
    for _ in range(_MAX_NEWTON):
        probs = expit(alpha * ratings @ design.T)
        gradient = -alpha * ((scores - probs) * weights) @ design + PRIOR * ratings
        curvature = alpha * alpha * probs * (1.0 - probs) * weights
        hessian = np.einsum("ru,ui,uj->rij", curvature, design, design, optimize=True) + eye
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        largest = np.abs(step).max(axis=1, keepdims=True)
        ratings -= step * np.minimum(1.0, _MAX_STEP / np.maximum(largest, 1e-300))
        if float(largest.max()) < 1e-10:
            break
    return ratings, hessian


def _groups(models: list[str], pairs: np.ndarray) -> list[int]:
    """Per model, the number (from 1, in order of first model) of its connected group."""
    parent = list(range(len(models)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        parent[root(int(a))] = root(int(b))
    numbers: dict[int, int] = {}
    return [numbers.setdefault(root(i), len(numbers) + 1) for i in range(len(models))]


def _spread(hessian: np.ndarray, groups: list[int]) -> np.ndarray:
    """Per model, the standard deviation of its rating relative to its group's mean (natural units). The votes say
    nothing about where a whole group sits (only the prior does, and it centres each group), so that direction is
    projected out of the inverse Hessian."""
    members = np.array(groups)
    centre = np.eye(len(groups))
    for group in set(groups):
        inside = (members == group).astype(np.float64)
        centre -= np.outer(inside, inside) / inside.sum()
    covariance = centre @ np.linalg.inv(hessian) @ centre.T
    return np.sqrt(np.clip(np.diag(covariance), 0.0, None))


def _win_rate(order: list[str], battles: Sequence[Battle]) -> np.ndarray:
    index = {name: i for i, name in enumerate(order)}
    wins = np.zeros((len(order), len(order)))
    for battle in battles:
        if battle.score != 0.5:
            winner, loser = (battle.a, battle.b) if battle.score == 1.0 else (battle.b, battle.a)
            wins[index[winner], index[loser]] += 1
    played = wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(played > 0, wins / played, np.nan)


def _tallies(votes: Sequence[VoteLike], battles: Sequence[Battle]) -> tuple[dict[str, Counter[str]], Counter[str]]:
    per: dict[str, Counter[str]] = {}
    for battle in battles:
        first, second = per.setdefault(battle.a, Counter()), per.setdefault(battle.b, Counter())
        if battle.both_bad:
            first["all_bad"] += 1
            second["all_bad"] += 1
        elif battle.score == 0.5:
            first["ties"] += 1
            second["ties"] += 1
        else:
            (first if battle.score == 1.0 else second)["wins"] += 1
            (second if battle.score == 1.0 else first)["losses"] += 1
    voted = Counter(name for vote in votes for name in set(vote.deployments))
    return per, voted


def leaderboard(votes: Sequence[VoteLike], *, rounds: int = DEFAULT_ROUNDS, seed: int = 0) -> Leaderboard:
    """The standings of the deployments the votes compare (none for no votes): ratings, intervals from `rounds`
    bootstrap rounds (at most MAX_ROUNDS; seeded, so the same votes give the same figures), online Elo, tallies and
    the win-rate matrix."""
    rounds = max(1, min(int(rounds), MAX_ROUNDS))
    battles = battles_from_votes(votes)
    if not battles:
        return Leaderboard((), np.zeros((0, 0)), len(votes), 0, rounds, 0)
    found = _matchups(battles)
    design = found.design
    [point], [hessian] = _fit(design, found.scores, found.counts[None, :])
    groups = _groups(found.models, found.pairs)
    spread = _spread(hessian, groups)
    resampled = np.random.default_rng(seed).multinomial(len(battles), found.counts / found.counts.sum(), size=rounds)
    boot, _ = _fit(design, found.scores, resampled.astype(np.float64))
    lower = np.minimum(np.percentile(boot, 2.5, axis=0), point - _Z95 * spread)
    upper = np.maximum(np.percentile(boot, 97.5, axis=0), point + _Z95 * spread)
    online = online_elo(battles)
    per, voted = _tallies(votes, battles)
    scaled = [(SCALE * v + INIT_RATING) for v in (point, lower, upper)]
    order = sorted(range(len(found.models)), key=lambda i: (-point[i], found.models[i]))
    standings = []
    for i in order:
        name, tally = found.models[i], per[found.models[i]]
        rank = 1 + sum(1 for j in range(len(found.models)) if scaled[1][j] > scaled[2][i])
        standings.append(
            Standing(
                deployment=name, rating=float(scaled[0][i]), lower=float(scaled[1][i]), upper=float(scaled[2][i]),
                rank=rank, online=online[name], wins=tally["wins"], losses=tally["losses"], ties=tally["ties"],
                all_bad=tally["all_bad"], battles=sum(tally.values()), votes=voted[name], group=groups[i],
            )
        )  # fmt: skip
    names = [s.deployment for s in standings]
    return Leaderboard(tuple(standings), _win_rate(names, battles), len(votes), len(battles), rounds, max(groups))
