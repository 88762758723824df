"""The compare page's session state: panes, turns, the running turn, blind mode and the vote tally.

Work reaches the panes only through this state (never as fragment or callback arguments), so a rerun caused by a
widget inside a pane can never send a turn again.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from services.compare_model import MAX_PANES, Turn, blind_labels, vote_tally
from services.compare_run import CompareRun

_STATE = "compare.state"


@dataclass
class PaneConfig:
    """One pane: a stable id (widget keys hang on it), its deployment, and whether it follows the shared settings."""

    uid: str
    deployment: str
    sync: bool = True


@dataclass
class ActiveTurn:
    """The turn being streamed: its index in `turns`, the run, and what each pane was asked with."""

    index: int
    run: CompareRun
    asked: dict[str, tuple[str, dict[str, Any]]]  # pane uid -> (system prompt, params)
    continuing: bool = False  # the panes answer their tool results: each reply extends the turn's rounds


@dataclass
class CompareState:
    """Everything the compare page keeps for one browser session."""

    panes: list[PaneConfig] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    active: ActiveTurn | None = None
    next_uid: int = 1
    blind: bool = False
    revealed: bool = False
    blind_seed: int = 0
    shuffle: bool = False  # while blind, deal the labels (and so the pane order) afresh on every turn
    archived_tally: Counter[str] = field(default_factory=Counter)
    url_read: bool = False
    notice: str | None = None
    retry_pane: str | None = None  # a pane whose failed last turn the user asked to send again
    sealed_link: tuple[str, str] | None = None  # (link payload, its blind token): the URL stays put while unchanged
    url_written: bool = False  # the page has drawn its history guard, so writing the URL adds no history entry
    auto_tools: bool = False  # answer tool calls without a click when canned results / built-in tools cover them
    continue_panes: set[str] = field(default_factory=set)  # panes whose tool results are given: the page sends them

    def add_pane(self, deployment: str) -> PaneConfig | None:
        """Add a pane bound to `deployment`; None when four panes exist already."""
        if len(self.panes) >= MAX_PANES:
            return None
        pane = PaneConfig(uid=f"p{self.next_uid}", deployment=deployment)
        self.next_uid += 1
        self.panes.append(pane)
        return pane

    def remove_pane(self, uid: str) -> None:
        """Remove a pane (the last one stays); its past replies remain in the turns and the export."""
        if len(self.panes) > 1:
            self.panes = [p for p in self.panes if p.uid != uid]

    def pane(self, uid: str) -> PaneConfig | None:
        """The pane with this id, if it still exists."""
        return next((p for p in self.panes if p.uid == uid), None)

    @property
    def running(self) -> bool:
        """True while a turn is streaming."""
        return self.active is not None

    @property
    def hidden(self) -> bool:
        """True while blind and not revealed: no deployment or model may be named anywhere on the page."""
        return self.blind and not self.revealed

    def labels(self) -> dict[str, str]:
        """Pane id -> the name shown: the deployment, or "Model A/B/C/D" while blind and not revealed."""
        if self.hidden:
            turn = len(self.turns) if self.shuffle else 0
            return blind_labels([p.uid for p in self.panes], self.blind_seed, turn=turn)
        labels: dict[str, str] = {}
        seen: Counter[str] = Counter()
        for pane in self.panes:
            seen[pane.deployment] += 1
            # Two panes on one deployment need different names, or the vote and the metrics rows merge them.
            count = seen[pane.deployment]
            labels[pane.uid] = pane.deployment if count == 1 else f"{pane.deployment} ({count})"
        return labels

    def display_order(self) -> list[PaneConfig]:
        """Panes in the order shown: by label while blind, so the position gives nothing away."""
        if self.hidden:
            labels = self.labels()
            return sorted(self.panes, key=lambda p: labels[p.uid])
        return list(self.panes)

    def set_blind(self, on: bool) -> None:
        """Turn blind mode on (fresh shuffle, names hidden) or off."""
        self.blind = on
        self.revealed = False
        if on:
            self.blind_seed = random.SystemRandom().randrange(1 << 30)

    def tally(self) -> Counter[str]:
        """Votes of this session: earlier comparisons plus the current one."""
        return self.archived_tally + vote_tally(self.turns)

    def request_retry(self, pane_uid: str) -> None:
        """Ask for the last turn to be sent again to one pane (its reply failed); the page starts it."""
        self.retry_pane = pane_uid

    def clear_conversation(self) -> None:
        """Start a new conversation with the same panes; the session's vote tally is kept."""
        if self.active is not None:
            self.active.run.stop()
        self.archived_tally = self.tally()
        self.turns = []
        self.active = None
        if self.blind:
            self.set_blind(True)


def compare_state() -> CompareState:
    """The compare page's state for this session (created on first use)."""
    if _STATE not in st.session_state:
        st.session_state[_STATE] = CompareState()
    return st.session_state[_STATE]
