"""Deterministic evaluators: exact, contains, regex, starts/ends with, length, JSON, JSON Schema. A spec becomes
one of these (or a model-based one of services/eval_judge.py) through services/eval_build.py.

A check's text may name row columns as `{{column}}` (`{{expected}}` is the row's expected answer). A row without the
value a check compares with gets a Verdict with `passed` None and a reason, never an exception; only an evaluator
that cannot work at all (a bad regex, an invalid schema, an unknown setting) raises EvalError, at construction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import regex

from services.eval_model import EXPECTED_COLUMN, EvalError, Row, Verdict
from services.prompt_syntax import PLACEHOLDER

# A fenced block (```json ... ```): models often wrap JSON in one even when asked not to.
FENCED = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\r?\n(.*?)\r?\n?[ \t]*```", re.DOTALL)
QUOTE_CHARS = 60
REGEX_MAX_CHARS = 10_000  # a quadratic pattern (\d*x) over 10,000 characters takes ~0.6 s; over 100,000 ~40 s
REGEX_TIMEOUT_S = 2.0  # an exponential pattern ((a+)+$) stops here instead of holding a worker for hours


def quoted(text: str, limit: int = QUOTE_CHARS) -> str:
    """`text` in quotes for a reason, cut to `limit` characters."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def expand(text: str, row: Row) -> tuple[str | None, str]:
    """`text` with each `{{column}}` replaced by the row's value: (text, "") or (None, why) when a value is missing
    or empty (comparing with an empty expected answer says nothing)."""
    missing: list[str] = []

    def value(match: re.Match[str]) -> str:
        found = row.get(match.group(1))
        if found is None or found == "":
            missing.append(match.group(1))
            return ""
        return found

    out = PLACEHOLDER.sub(value, text)
    if not missing:
        return out, ""
    if missing[0] == EXPECTED_COLUMN:
        return None, "the row has no expected answer to compare with"
    return None, f"the row has no value for {missing[0]!r}"


def json_text(answer: str) -> str:
    """The JSON part of an answer: the answer itself, or the inside of its first ``` fenced block."""
    stripped = answer.strip()
    if stripped.startswith(("{", "[")):
        return stripped
    fenced = FENCED.search(stripped)
    return fenced.group(1).strip() if fenced else stripped


def parse_json(answer: str) -> tuple[Any, str]:
    """(value, "") for an answer that is JSON (fenced or not), else (None, why it is not)."""
    text = json_text(answer)
    if not text:
        return None, "the answer is empty, not JSON"
    try:
        return json.loads(text), ""
    except json.JSONDecodeError as exc:
        return None, f"the answer is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"


def _fold(text: str, ignore_case: bool) -> str:
    return text.casefold() if ignore_case else text


@dataclass
class ExactMatch:
    """Passes when the answer equals `value` (the row's expected answer by default); options: ignore case, trim."""

    name: str
    value: str = "{{expected}}"
    ignore_case: bool = False
    trim: bool = True
    kind: str = field(default="exact", init=False)

    def evaluate(self, answer: str, row: Row) -> Verdict:
        """Compare the answer with the expanded value."""
        target, why = expand(self.value, row)
        if target is None:
            return Verdict(self.name, None, reason=why)
        got, want = (answer.strip(), target.strip()) if self.trim else (answer, target)
        if _fold(got, self.ignore_case) == _fold(want, self.ignore_case):
            return Verdict(self.name, True, reason="the answer matches")
        return Verdict(self.name, False, reason=f"expected {quoted(want)}, got {quoted(got)}")


@dataclass
class Contains:
    """Passes when the answer contains `text` (which may name `{{column}}`s); `negate` makes it "not contains"."""

    name: str
    text: str
    ignore_case: bool = False
    negate: bool = False
    kind: str = field(default="contains", init=False)

    def __post_init__(self) -> None:
        if not self.text:
            raise EvalError(f"Evaluator {self.name!r}: the text to look for is empty; give a text or a {{{{column}}}}.")
        self.kind = "not_contains" if self.negate else "contains"

    def evaluate(self, answer: str, row: Row) -> Verdict:
        """Look for the expanded text in the answer."""
        target, why = expand(self.text, row)
        if target is None:
            return Verdict(self.name, None, reason=why)
        found = _fold(target, self.ignore_case) in _fold(answer, self.ignore_case)
        reason = f"the answer contains {quoted(target)}" if found else f"the answer does not contain {quoted(target)}"
        return Verdict(self.name, found != self.negate, reason=reason)


@dataclass
class Affix:
    """Passes when the answer starts (or, with `at_end`, ends) with `text`; `trim` ignores surrounding whitespace."""

    name: str
    text: str
    ignore_case: bool = False
    trim: bool = True
    at_end: bool = False
    kind: str = field(default="starts_with", init=False)

    def __post_init__(self) -> None:
        if not self.text:
            raise EvalError(f"Evaluator {self.name!r}: the text to look for is empty; give a text or a {{{{column}}}}.")
        self.kind = "ends_with" if self.at_end else "starts_with"

    def evaluate(self, answer: str, row: Row) -> Verdict:
        """Compare the answer's start or end with the expanded text."""
        target, why = expand(self.text, row)
        if target is None:
            return Verdict(self.name, None, reason=why)
        got = _fold(answer.strip() if self.trim else answer, self.ignore_case)
        want = _fold(target.strip() if self.trim else target, self.ignore_case)
        passed = got.endswith(want) if self.at_end else got.startswith(want)
        where = "ends" if self.at_end else "starts"
        edge = answer.strip()[-QUOTE_CHARS:] if self.at_end else answer.strip()[:QUOTE_CHARS]
        if passed:
            return Verdict(self.name, True, reason=f"the answer {where} with {quoted(target)}")
        return Verdict(
            self.name, False, reason=f"the answer does not {where[:-1]} with {quoted(target)}: {quoted(edge)}"
        )


@dataclass
class RegexMatch:
    """Passes when `pattern` is found anywhere in the answer. The syntax is Python's `re` (run by the `regex`
    package, whose matcher takes a time limit)."""

    name: str
    pattern: str
    ignore_case: bool = False
    timeout_s: float = REGEX_TIMEOUT_S
    kind: str = field(default="regex", init=False)
    compiled: regex.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            # VERSION0 is the `re`-compatible dialect, so a pattern behaves as the docs of `re` say.
            flags = regex.VERSION0 | (regex.IGNORECASE if self.ignore_case else 0)
            self.compiled = regex.compile(self.pattern, flags)
        except regex.error as exc:
            raise EvalError(
                f"Evaluator {self.name!r}: the pattern {self.pattern!r} is not a valid regular expression ({exc}); "
                "fix the pattern."
            ) from None

    def evaluate(self, answer: str, row: Row) -> Verdict:
        """Search the answer's first REGEX_MAX_CHARS characters for the pattern (the reason says when it was cut).
        A search that runs past `timeout_s` is no verdict (None), with a reason naming the time limit."""
        cut = len(answer) > REGEX_MAX_CHARS
        try:
            found = self.compiled.search(answer[:REGEX_MAX_CHARS] if cut else answer, timeout=self.timeout_s)
        except TimeoutError:
            return Verdict(
                self.name,
                None,
                reason=f"the pattern {quoted(self.pattern)} took longer than {self.timeout_s:g} s on this answer "
                "and was stopped; simplify it (nested repeats such as (a+)+ backtrack without end)",
            )
        note = f" (only the first {REGEX_MAX_CHARS:,} of {len(answer):,} characters were searched)" if cut else ""
        if found is None:
            return Verdict(self.name, False, reason=f"no match for {quoted(self.pattern)}{note}")
        return Verdict(self.name, True, reason=f"matched {quoted(found.group(0))}{note}")


@dataclass
class LengthBounds:
    """Passes when the answer (trimmed) has between `min_chars` and `max_chars` characters (either may be None)."""

    name: str
    min_chars: int | None = None
    max_chars: int | None = None
    kind: str = field(default="length", init=False)

    def __post_init__(self) -> None:
        for label, bound in (("min", self.min_chars), ("max", self.max_chars)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int) or bound < 0):
                raise EvalError(f"Evaluator {self.name!r}: {label} must be a whole number of characters, 0 or more.")
        if self.min_chars is None and self.max_chars is None:
            raise EvalError(f"Evaluator {self.name!r}: give a min, a max or both.")
        if self.min_chars is not None and self.max_chars is not None and self.min_chars > self.max_chars:
            raise EvalError(f"Evaluator {self.name!r}: min {self.min_chars} is over max {self.max_chars}; swap them.")

    def evaluate(self, answer: str, row: Row) -> Verdict:
        """Count the answer's characters."""
        size = len(answer.strip())
        if self.min_chars is not None and size < self.min_chars:
            return Verdict(self.name, False, reason=f"{size} characters, under the minimum of {self.min_chars}")
        if self.max_chars is not None and size > self.max_chars:
            return Verdict(self.name, False, reason=f"{size} characters, over the maximum of {self.max_chars}")
        return Verdict(self.name, True, reason=f"{size} characters")


@dataclass
class ValidJson:
    """Passes when the answer is JSON (a ```json fenced block is accepted)."""

    name: str
    kind: str = field(default="json", init=False)

    def evaluate(self, answer: str, row: Row) -> Verdict:
        """Parse the answer."""
        _, why = parse_json(answer)
        return Verdict(self.name, not why, reason=why or "the answer is JSON")


@dataclass
class JsonSchemaMatch:
    """Passes when the answer is JSON that the JSON Schema `schema` accepts; the reason names the first failing path.

    `schema` may be a schema, its JSON text, or a response-format wrapper {"name", "schema"} (a `.prompt.yml`'s
    jsonSchema), which is unwrapped."""

    name: str
    schema: Mapping[str, Any] | str
    kind: str = field(default="json_schema", init=False)
    validator: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Imported here: jsonschema is needed only when a run uses this evaluator.
        import jsonschema
        from jsonschema.validators import validator_for

        schema: Any = self.schema
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except json.JSONDecodeError as exc:
                raise EvalError(f"Evaluator {self.name!r}: the schema is not JSON ({exc.msg}); fix it.") from None
        if isinstance(schema, Mapping) and isinstance(schema.get("schema"), Mapping) and "name" in schema:
            schema = schema["schema"]
        if not isinstance(schema, Mapping | bool):
            raise EvalError(f"Evaluator {self.name!r}: the schema must be a JSON object.")
        cls = validator_for(schema)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = exc.json_path if exc.path else "$"
            raise EvalError(
                f"Evaluator {self.name!r}: the JSON Schema is invalid at {where}: {exc.message}; fix the schema."
            ) from None
        self.validator = cls(schema, format_checker=cls.FORMAT_CHECKER)

    def evaluate(self, answer: str, row: Row) -> Verdict:
        """Parse the answer and validate it."""
        from jsonschema.exceptions import best_match

        value, why = parse_json(answer)
        if why:
            return Verdict(self.name, False, reason=why)
        error = best_match(self.validator.iter_errors(value))
        if error is None:
            return Verdict(self.name, True, reason="the answer matches the schema")
        return Verdict(self.name, False, reason=f"at {error.json_path}: {error.message[:200]}")


# --- from a spec ---------------------------------------------------------------------------------------------------

# Each kind's settings: name -> (accepted types, default); a default of REQUIRED must be given.
