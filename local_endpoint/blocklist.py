"""The custom blocklist: terms matched case-insensitively as whole words on prompts and on generated text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_LIST_ID = "local-endpoint-default"
ENVIRONMENT_LIST_ID = "local-endpoint-environment"
_DEFAULT_FILE = Path(__file__).with_name("blocklist_default.txt")


def default_terms() -> list[str]:
    """The terms of the package's default list."""
    lines = _DEFAULT_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


@dataclass(frozen=True)
class BlocklistMatch:
    """Where a blocked term starts in the checked text and which list it came from."""

    start: int
    list_id: str


class Blocklist:
    """Named lists of blocked terms; `find` answers the earliest match in a text."""

    def __init__(self, lists: dict[str, list[str]]) -> None:
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        self._terms = sorted({term.lower() for terms in lists.values() for term in terms})
        longest = 0
        for list_id, terms in lists.items():
            for term in terms:
                # Whole words only; the end of the text counts as a boundary so a streamed term is caught at once.
                self._patterns.append((list_id, re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)))
                longest = max(longest, len(term))
        self.longest_term = longest

    @classmethod
    def with_defaults(cls, extra_terms: tuple[str, ...] | list[str]) -> Blocklist:
        """The package's default list plus `extra_terms` (from LOCAL_ENDPOINT_BLOCKLIST)."""
        lists = {DEFAULT_LIST_ID: default_terms()}
        if extra_terms:
            lists[ENVIRONMENT_LIST_ID] = list(extra_terms)
        return cls(lists)

    def unfinished_tail(self, text: str) -> int:
        """How many characters at the end of `text` could be the start of a blocked term (to hold back)."""
        lowered = text[-self.longest_term :].lower() if self.longest_term else ""
        longest = 0
        for term in self._terms:
            for k in range(min(len(term) - 1, len(lowered)), longest, -1):
                if lowered.endswith(term[:k]):
                    longest = k
                    break
        return longest

    def find(self, text: str) -> BlocklistMatch | None:
        """The earliest blocked term in `text`, or None."""
        best: BlocklistMatch | None = None
        for list_id, pattern in self._patterns:
            found = pattern.search(text)
            if found and (best is None or found.start() < best.start):
                best = BlocklistMatch(found.start(), list_id)
        return best


def content_filter_result(match: BlocklistMatch | None) -> dict[str, Any]:
    """The per-category result Azure reports: only the custom blocklist can fire here; the rest is honestly `safe`."""
    safe = {"filtered": False, "severity": "safe"}
    result: dict[str, Any] = {
        "hate": dict(safe),
        "self_harm": dict(safe),
        "sexual": dict(safe),
        "violence": dict(safe),
        "jailbreak": {"filtered": False, "detected": False},
    }
    if match is None:
        result["custom_blocklists"] = {"filtered": False, "details": []}
    else:
        result["custom_blocklists"] = {"filtered": True, "details": [{"filtered": True, "id": match.list_id}]}
    return result
