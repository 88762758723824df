"""Deterministic evaluators (exact, contains, regex, starts/ends with, length, JSON, JSON Schema) and
`build_evaluator`, which makes any kind, the model-based ones of services/eval_judge.py included, from its spec.

A check's text may name row columns as `{{column}}` (`{{expected}}` is the row's expected answer). A row without the
value a check compares with gets a Verdict with `passed` None and a reason, never an exception; only an evaluator
that cannot work at all (a bad regex, an invalid schema, an unknown setting) raises EvalError, at construction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import regex

from services.config import Deployment
from services.eval_model import EXPECTED_COLUMN, EvalError, Evaluator, EvaluatorSpec, Row, Verdict
from services.netguard import AddressGuard
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
REQUIRED = object()
TEXT = (str,)
FLAG = (bool,)
COUNT = (int, type(None))
SETTINGS: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "exact": {"value": (TEXT, "{{expected}}"), "ignore_case": (FLAG, False), "trim": (FLAG, True)},
    "contains": {"text": (TEXT, REQUIRED), "ignore_case": (FLAG, False)},
    "not_contains": {"text": (TEXT, REQUIRED), "ignore_case": (FLAG, False)},
    "starts_with": {"text": (TEXT, REQUIRED), "ignore_case": (FLAG, False), "trim": (FLAG, True)},
    "ends_with": {"text": (TEXT, REQUIRED), "ignore_case": (FLAG, False), "trim": (FLAG, True)},
    "regex": {"pattern": (TEXT, REQUIRED), "ignore_case": (FLAG, False)},
    "length": {"min": (COUNT, None), "max": (COUNT, None)},
    "json": {},
    "json_schema": {"schema": ((dict, str, Mapping), REQUIRED)},
    "similarity": {"deployment": ((str, type(None)), REQUIRED), "threshold": ((int, float), 0.8)},
    "judge": {
        "deployment": ((str, type(None)), REQUIRED),
        "rubric": ((str, type(None)), None),
        "system": ((str, type(None)), None),
        "pass_mark": ((int, float, type(None)), None),
        "choices": ((list, type(None)), None),
        "requires_expected": (FLAG, False),
        "max_tokens": ((int,), 300),
    },
}
KINDS = tuple(SETTINGS)
COMMON_SETTINGS = ("note", "source")  # what a mapping from another format says about itself; not used to judge


def spec_settings(spec: EvaluatorSpec) -> dict[str, Any]:
    """The spec's settings with defaults filled in; EvalError for an unknown kind or setting, a missing or
    mistyped one."""
    if spec.kind not in SETTINGS:
        raise EvalError(f"Evaluator {spec.name!r}: unknown kind {spec.kind!r}; use one of {', '.join(KINDS)}.")
    allowed = SETTINGS[spec.kind]
    out: dict[str, Any] = {}
    for key in spec.settings:
        if key not in allowed and key not in COMMON_SETTINGS:
            known = ", ".join(allowed) or "none"
            raise EvalError(f"Evaluator {spec.name!r}: {spec.kind} has no setting {key!r} (its settings: {known}).")
    for key, (types, default) in allowed.items():
        if key not in spec.settings or (spec.settings[key] is None and default is not REQUIRED):
            if default is REQUIRED:
                raise EvalError(f"Evaluator {spec.name!r}: {spec.kind} needs the setting {key!r}.")
            out[key] = default
            continue
        value = spec.settings[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise EvalError(
                f"Evaluator {spec.name!r}: the setting {key!r} has the wrong type ({type(value).__name__})."
            )
        out[key] = value
    return out


def build_evaluator(
    spec: EvaluatorSpec,
    deployments: Mapping[str, Deployment] | None = None,
    *,
    clients: Mapping[str, Any] | None = None,
    cache: Any = None,
    guards: Mapping[str, AddressGuard | None] | None = None,
) -> Evaluator:
    """The evaluator a spec describes. `similarity` and `judge` call a deployment named in their settings, looked up
    in `deployments` (name -> Deployment); `clients` (name -> InferenceClient) lets them share open clients, `cache`
    (an EmbeddingCache) keeps similarity's vectors, `guards` (name -> AddressGuard or None) is the address guard a
    client they make connects through. Raises EvalError for a spec that cannot work."""
    settings = spec_settings(spec)
    name = spec.name
    makers: dict[str, Callable[[], Evaluator]] = {
        "exact": lambda: ExactMatch(name, settings["value"], settings["ignore_case"], settings["trim"]),
        "contains": lambda: Contains(name, settings["text"], settings["ignore_case"]),
        "not_contains": lambda: Contains(name, settings["text"], settings["ignore_case"], negate=True),
        "starts_with": lambda: Affix(name, settings["text"], settings["ignore_case"], settings["trim"]),
        "ends_with": lambda: Affix(name, settings["text"], settings["ignore_case"], settings["trim"], at_end=True),
        "regex": lambda: RegexMatch(name, settings["pattern"], settings["ignore_case"]),
        "length": lambda: LengthBounds(name, settings["min"], settings["max"]),
        "json": lambda: ValidJson(name),
        "json_schema": lambda: JsonSchemaMatch(name, settings["schema"]),
    }
    if spec.kind in makers:
        return makers[spec.kind]()
    # Imported here: eval_judge builds on this module's helpers.
    from services import eval_judge

    deployment = _deployment_for(spec, settings["deployment"], deployments)
    client = (clients or {}).get(deployment.name)
    guard = (guards or {}).get(deployment.name)
    if spec.kind == "similarity":
        return eval_judge.SimilarityEvaluator(
            name, deployment, settings["threshold"], client=client, cache=cache, guard=guard
        )
    return eval_judge.JudgeEvaluator(
        name,
        deployment,
        rubric=settings["rubric"],
        system=settings["system"],
        pass_mark=settings["pass_mark"],
        choices=settings["choices"],
        requires_expected=settings["requires_expected"],
        max_tokens=settings["max_tokens"],
        client=client,
        guard=guard,
    )


def build_evaluators(
    specs: Sequence[EvaluatorSpec],
    deployments: Mapping[str, Deployment] | None = None,
    *,
    clients: Mapping[str, Any] | None = None,
    cache: Any = None,
    guards: Mapping[str, AddressGuard | None] | None = None,
) -> list[Evaluator]:
    """Every spec's evaluator, in order; EvalError when two share a name (names are the results' column headers)."""
    seen: set[str] = set()
    for spec in specs:
        if not spec.name.strip():
            raise EvalError(f"An evaluator of kind {spec.kind!r} has no name; give it one.")
        if spec.name in seen:
            raise EvalError(f"Two evaluators are named {spec.name!r}; give each its own name.")
        seen.add(spec.name)
    return [build_evaluator(spec, deployments, clients=clients, cache=cache, guards=guards) for spec in specs]


def _deployment_for(
    spec: EvaluatorSpec, wanted: str | None, deployments: Mapping[str, Deployment] | None
) -> Deployment:
    role = "an embeddings deployment" if spec.kind == "similarity" else "a chat deployment to judge with"
    if not wanted:
        raise EvalError(f"Evaluator {spec.name!r} needs {role}; choose one.")
    found = (deployments or {}).get(wanted)
    if found is None:
        raise EvalError(
            f"Evaluator {spec.name!r} uses the deployment {wanted!r}, which is not configured; choose another."
        )
    return found
