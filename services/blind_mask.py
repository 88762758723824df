"""Blind mode's mask: the words that would tell which pane is which deployment (its name, its model's names, its
endpoint) replaced in any text shown while blind, by the pane's label ("Model A") or by "the endpoint".

A model's own answer can name it too ("I am Phi, made by Microsoft"): `BlindMask.answer` hides, as whole words, those
names, the models' families ("Phi" of "Phi-4-mini") and providers behind `HIDDEN_NAME` (never a label: an answer can
name another pane's model, and a label there would mislead). The answer itself is kept: the names come back on reveal.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from services.errors import InferenceError

ENDPOINT_WORD = "the endpoint"
HIDDEN_NAME = "[name hidden]"
# Parts of model names too common to hide in an answer ("text" of "text-embedding-3-small").
_GENERIC = frozenset(
    [
        "text",
        "chat",
        "model",
        "instruct",
        "mini",
        "small",
        "medium",
        "large",
        "base",
        "embed",
        "embedding",
        "vision",
        "preview",
        "latest",
        "turbo",
    ]
)
_MIN_ANSWER_WORD = 3


@dataclass(frozen=True)
class BlindMask:
    """Words to hide (matched without regard to case, longest first) and what stands in for each."""

    stand_ins: Mapping[str, str]  # lower-cased word -> replacement
    answer_words: frozenset[str] = frozenset()  # lower-cased, hidden in answers only: families and providers

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str]:
        words = sorted(self.stand_ins, key=len, reverse=True)
        return re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)

    @functools.cached_property
    def _answer_pattern(self) -> re.Pattern[str] | None:
        words = {w for w in (*self.stand_ins, *self.answer_words) if len(w) >= _MIN_ANSWER_WORD}
        if not words:
            return None
        # Whole words only: a deployment called "phi" must not eat "philosophy" out of an answer.
        alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)

    def answer(self, value: str) -> str:
        """A model's answer (text or tool-call arguments) with every name that could give its pane away hidden."""
        pattern = self._answer_pattern
        if pattern is None or not value:
            return value
        return pattern.sub(HIDDEN_NAME, value)

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


def model_family(name: str) -> list[str]:
    """What an answer may call a model named `name`: the name's first two parts that start with a letter ("Meta" and
    "Llama" of "Meta-Llama-3.1-8B") and their leading letters ("SmolLM" of "SmolLM2"), leaving out common words."""
    found: list[str] = []
    for part in re.split(r"[-_/.:\s]+", name.strip())[:2]:
        letters = re.match(r"[A-Za-z]*", part)
        if letters and letters.group(0):
            found += [part, letters.group(0)]
    return [w for w in dict.fromkeys(found) if len(w) >= _MIN_ANSWER_WORD and w.lower() not in _GENERIC]


def blind_mask(
    words_by_label: Mapping[str, Iterable[str | None]],
    endpoints: Iterable[str | None] = (),
    answer_words: Iterable[str | None] = (),
) -> BlindMask:
    """The mask for these panes: each label with its deployment's and models' names, and the endpoints to hide;
    `answer_words` (model families, providers) are hidden in answers only.

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
    extra = frozenset(w.strip().lower() for w in answer_words if w and w.strip().lower() not in _GENERIC)
    return BlindMask(stand_ins, extra)
