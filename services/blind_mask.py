"""Blind mode's mask: the words that would tell which pane is which deployment (its name, its model's names, its
endpoint) replaced in any text shown while blind, by the pane's label ("Model A") or by "the endpoint"."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from services.errors import InferenceError

ENDPOINT_WORD = "the endpoint"


@dataclass(frozen=True)
class BlindMask:
    """Words to hide (matched without regard to case, longest first) and what stands in for each."""

    stand_ins: Mapping[str, str]  # lower-cased word -> replacement

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str]:
        words = sorted(self.stand_ins, key=len, reverse=True)
        return re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)

    def text(self, value: str) -> str:
        """`value` with every hidden word replaced."""
        if not self.stand_ins or not value:
            return value
        return self._pattern.sub(lambda m: self.stand_ins[m.group(0).lower()], value)

    def error(self, err: Exception, label: str | None = None) -> Exception:
        """A copy of `err` whose every text field is masked (its deployment named `label`); `err` is untouched."""
        if not self.stand_ins and label is None:
            return err
        # Not copy.copy: it calls the constructor again, which fails for errors with keyword-only fields (route, host).
        masked = type(err).__new__(type(err))
        masked.__dict__.update({name: self._value(value) for name, value in vars(err).items()})
        if label is not None and isinstance(err, InferenceError):
            masked.deployment = label
        masked.args = (str(masked),) if isinstance(err, InferenceError) else self._value(err.args)
        return masked

    def _value(self, value: Any) -> Any:
        """Texts masked inside strings, dicts, lists and tuples (an error's details can be any of them)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self._value(k): self._value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._value(v) for v in value)
        return value


def endpoint_words(endpoint: str | None) -> list[str]:
    """The endpoint URL and its host (a resource name in a host can name the model)."""
    if not endpoint:
        return []
    parts = urlsplit(endpoint)
    return [endpoint.rstrip("/"), parts.netloc, parts.hostname or ""]


def blind_mask(words_by_label: Mapping[str, Iterable[str | None]], endpoints: Iterable[str | None] = ()) -> BlindMask:
    """The mask for these panes: each label with its deployment's and models' names, and the endpoints to hide.

    When two panes share a word (the same deployment twice), the first label keeps it: either way it is hidden."""
    stand_ins: dict[str, str] = {}
    for endpoint in endpoints:
        for word in endpoint_words(endpoint):
            if word:
                stand_ins.setdefault(word.lower(), ENDPOINT_WORD)
    for label, words in words_by_label.items():
        for word in words:
            if word and word.strip():
                stand_ins.setdefault(word.strip().lower(), label)
    return BlindMask(stand_ins)
