"""Model-based evaluators: similarity to the expected answer through an embeddings deployment, and an LLM judge that
rates an answer 1-5 with a chat deployment. `.prompt.yml` evaluators become specs in services/eval_prompt_file.py.

Neither raises out of `evaluate`: a failed call (a 422, a 429 after its retries, a timeout) becomes a Verdict with
`passed` None and the error's words, and so does a judge answer that holds no score. The judge's call runs in its
own traced action ("eval judge"), so its request, answer and cost show on the Traces page beside the run's calls.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from services import tracing
from services.client import InferenceClient
from services.config import Deployment
from services.embeddings import embed_many
from services.errors import InferenceError, UnsupportedParameterError
from services.eval_checks import quoted
from services.eval_model import EXPECTED_COLUMN, EvalError, Row, Verdict
from services.eval_prompt_file import from_prompt_file as from_prompt_file
from services.netguard import AddressGuard
from services.prompt_syntax import PLACEHOLDER
from services.retry import RetryPolicy

JUDGE_ACTION = "eval judge"
SIMILARITY_ACTION = "eval similarity"
DEFAULT_THRESHOLD = 0.8
DEFAULT_PASS_MARK = 4
REASON_CHARS = 200
NOT_A_SCORE = "the judge's answer is not a score: "
# Names a rubric may use besides the row's columns.
ANSWER_NAMES = ("answer", "completion")  # `completion` is what gh models calls the answer
SPECIAL_NAMES = (*ANSWER_NAMES, "expected", "input", "row")
DEFAULT_SYSTEM = "You are a strict, fair grader of answers. You reply only in the format you are asked for."
DEFAULT_RUBRIC = """\
Rate the answer below from 1 to 5: 1 = wrong, off-topic or empty; 2 = mostly wrong; 3 = partly right or unclear; \
4 = right and clear with small flaws; 5 = right, complete and clear. When an expected answer is given, the answer \
must agree with it.

Request:
{{input}}

Expected answer (may be empty):
{{expected}}

Answer to rate:
{{answer}}

Reply with one JSON object and nothing else: {"score": <1 to 5>, "reason": "<one short sentence>"}"""
SCORE_KEYS = ("score", "rating", "stars", "grade")
REASON_KEYS = ("reason", "explanation", "rationale", "justification")
LABELLED = re.compile(
    r"\b(?:score|rating|stars|grade)\b[^0-9\n]{0,12}?(\d+(?:\.\d+)?)(?:\s*(?:/|out\s+of)\s*(\d+))?", re.IGNORECASE
)
FRACTION = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:/|out\s+of)\s*5(?![\d.])", re.IGNORECASE)
LEADING = re.compile(r"^\W{0,3}([1-5])(?![\d]|\.\d)")
LAST_LINE = re.compile(r"^\W{0,3}([1-5])\W{0,3}$")
REASON_TRIM = " \t\r\n-–—:*.,;)]}\"'"


@dataclass(frozen=True)
class JudgeScore:
    """A score of 1 to 5 found in a judge's answer, and the judge's reason (may be empty)."""

    score: int
    reason: str


def _one_to_five(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(?:\.0+)?\s*", value):
        value = float(value)
    if isinstance(value, int | float) and float(value).is_integer() and 1 <= value <= 5:
        return int(value)
    return None


def _clean(text: str) -> str:
    return " ".join(text.strip(REASON_TRIM).split())


def _from_json(text: str) -> JudgeScore | None:
    decoder = json.JSONDecoder()
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        if not isinstance(value, dict):
            continue
        keys = {str(k).lower(): v for k, v in value.items()}
        for key in SCORE_KEYS:
            score = _one_to_five(keys.get(key))
            if score is not None:
                reason = next((str(keys[k]) for k in REASON_KEYS if isinstance(keys.get(k), str | int | float)), "")
                return JudgeScore(score, _clean(reason))
    return None


def parse_score(text: str) -> JudgeScore | None:
    """The first valid 1-5 score in a judge's answer, or None. Tried in order: a JSON object's score (or rating,
    stars, grade), a labelled score ("Score: 4", "rating = **4**"; "Score: 4/5" too, "8/10" is skipped), a fraction
    of 5 ("4/5", "4 out of 5"), a bare digit that starts the answer ("4 - clear"), a bare digit alone on the last line.
    """
    found = _from_json(text)
    if found is not None:
        return found
    for match in LABELLED.finditer(text):
        if match.group(2) is not None and match.group(2) != "5":
            continue
        score = _one_to_five(match.group(1))
        if score is not None:
            return JudgeScore(score, _clean(text[match.end() :]) or _clean(text[: match.start()]))
    for match in FRACTION.finditer(text):
        score = _one_to_five(match.group(1))
        if score is not None:
            return JudgeScore(score, _clean(text[match.end() :]) or _clean(text[: match.start()]))
    stripped = text.strip()
    leading = LEADING.match(stripped)
    if leading is not None:
        return JudgeScore(int(leading.group(1)), _clean(stripped[leading.end() :]))
    lines = [line for line in stripped.splitlines() if line.strip()]
    last = LAST_LINE.match(lines[-1].strip()) if lines else None
    if last is not None:
        return JudgeScore(int(last.group(1)), _clean("\n".join(lines[:-1])))
    return None


def row_text(row: Row) -> str:
    """The row's columns but `expected`, one "name: value" line each (what `{{row}}` stands for in a rubric)."""
    return "\n".join(f"{name}: {value}" for name, value in row.items() if name != EXPECTED_COLUMN)


def rubric_columns(rubric: str) -> list[str]:
    """The row columns a rubric names (besides answer, completion, expected, input, row): a run can check them."""
    return [name for name in dict.fromkeys(PLACEHOLDER.findall(rubric)) if name not in SPECIAL_NAMES]


def render_rubric(rubric: str, answer: str, row: Row, *, requires_expected: bool = False) -> tuple[str | None, str]:
    """(the judge's prompt, "") or (None, why): `{{answer}}`/`{{completion}}` is the answer, `{{expected}}` the row's
    expected answer ("" when it has none, unless required), `{{input}}` the row's `input` column or, without one,
    `{{row}}`: every column but expected as "name: value" lines; other `{{name}}`s are the row's columns."""
    expected = row.get(EXPECTED_COLUMN) or ""
    if requires_expected and not expected.strip():
        return None, "the row has no expected answer to compare with"
    values = {name: value for name, value in row.items()}
    values.update(dict.fromkeys(ANSWER_NAMES, answer))
    values["expected"] = expected
    values["row"] = row_text(row)
    values.setdefault("input", values["row"])
    missing = [name for name in PLACEHOLDER.findall(rubric) if name not in values]
    if missing:
        return None, f"the rubric uses {{{{{missing[0]}}}}}, which the row does not have"
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], rubric), ""


class _DeploymentCaller:
    """Holds one InferenceClient for a deployment (made on first use, shared by threads; close() closes it)."""

    def __init__(
        self,
        deployment: Deployment,
        client: InferenceClient | None,
        retry_policy: RetryPolicy | None,
        guard: AddressGuard | None = None,
    ):
        self.deployment = deployment
        self._guard = guard
        self._client = client
        self._owned = client is None
        self._retry_policy = retry_policy
        self._lock = threading.Lock()

    def client(self) -> InferenceClient:
        with self._lock:
            if self._client is None:
                self._client = InferenceClient(self.deployment, retry_policy=self._retry_policy, guard=self._guard)
            return self._client

    def close(self) -> None:
        """Close the client if this evaluator made it."""
        with self._lock:
            if self._owned and self._client is not None:
                self._client.close()
                self._client = None


class SimilarityEvaluator(_DeploymentCaller):
    """Cosine similarity of the answer's and the expected answer's embeddings: score = cosine, passed when it is at
    least `threshold`. Vectors go through services.embeddings (its retries; `cache`, an EmbeddingCache, when given)."""

    kind = "similarity"

    def __init__(
        self,
        name: str,
        deployment: Deployment,
        threshold: float = DEFAULT_THRESHOLD,
        *,
        client: InferenceClient | None = None,
        cache: Any = None,
        retry_policy: RetryPolicy | None = None,
        guard: AddressGuard | None = None,
    ) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not -1 <= threshold <= 1:
            raise EvalError(f"Evaluator {name!r}: the threshold must be a cosine between -1 and 1, not {threshold!r}.")
        super().__init__(deployment, client, retry_policy, guard)
        self.name = name
        self.threshold = float(threshold)
        self.cache = cache

    def evaluate(self, answer: str, row: Row) -> Verdict:
        """Embed both texts and compare them; a failed call is a Verdict with passed None."""
        expected = row.get(EXPECTED_COLUMN) or ""
        if not expected.strip():
            return Verdict(self.name, None, reason="the row has no expected answer to compare with")
        if not answer.strip():
            return Verdict(self.name, False, reason="the answer is empty")
        try:
            with tracing.action(SIMILARITY_ACTION):
                found = embed_many(self.client(), [answer, expected], batch_size=2, concurrency=1, cache=self.cache)
        except Exception as exc:  # evaluate never raises: the cell keeps its answer and says why this is unknown
            return Verdict(self.name, None, reason=_error_words(exc))
        if not found.complete:
            error = found.fatal or (found.failures[0].error if found.failures else None)
            return Verdict(self.name, None, reason=_error_words(error) if error else "the embeddings did not arrive")
        first, second = found.vectors[0], found.vectors[1]
        norms = float(np.linalg.norm(first) * np.linalg.norm(second))
        if norms == 0:
            return Verdict(self.name, None, reason="an embedding is all zeros; similarity is undefined")
        cosine = round(float(np.dot(first, second)) / norms, 6)
        passed = cosine >= self.threshold
        sign = ">=" if passed else "<"
        return Verdict(self.name, passed, score=cosine, reason=f"cosine {cosine:.3f} {sign} {self.threshold:g}")


class JudgeEvaluator(_DeploymentCaller):
    """A chat deployment rates the answer with a rubric (DEFAULT_RUBRIC unless given; see render_rubric for its
    names). With `choices` ([{choice, score}], as gh models' `llm` evaluators) the first choice the judge's answer
    contains is its score, passing above 0 (or at `pass_mark`); without, a 1-5 score (parse_score) passes at
    `pass_mark` (default 4)."""

    kind = "judge"

    def __init__(
        self,
        name: str,
        deployment: Deployment,
        *,
        rubric: str | None = None,
        system: str | None = None,
        pass_mark: float | None = None,
        choices: Sequence[Mapping[str, Any]] | None = None,
        requires_expected: bool = False,
        max_tokens: int = 300,
        client: InferenceClient | None = None,
        retry_policy: RetryPolicy | None = None,
        guard: AddressGuard | None = None,
    ) -> None:
        super().__init__(deployment, client, retry_policy, guard)
        self.name = name
        self.rubric = rubric or DEFAULT_RUBRIC
        self.system = DEFAULT_SYSTEM if system is None else system
        self.choices = _checked_choices(name, choices)
        if pass_mark is not None and (isinstance(pass_mark, bool) or not isinstance(pass_mark, int | float)):
            raise EvalError(f"Evaluator {name!r}: the pass mark must be a number, not {pass_mark!r}.")
        if self.choices is None and pass_mark is not None and not 1 <= pass_mark <= 5:
            raise EvalError(f"Evaluator {name!r}: the pass mark must be between 1 and 5, not {pass_mark!r}.")
        self.pass_mark = pass_mark if pass_mark is not None or self.choices is not None else DEFAULT_PASS_MARK
        self.requires_expected = requires_expected
        self.max_tokens = max_tokens
        self.columns = rubric_columns(self.rubric)

    def evaluate(self, answer: str, row: Row) -> Verdict:
        """Ask the judge; its answer, a call error or an unusable answer each become a Verdict."""
        prompt, why = render_rubric(self.rubric, answer, row, requires_expected=self.requires_expected)
        if prompt is None:
            return Verdict(self.name, None, reason=why)
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + [
            {"role": "user", "content": prompt}
        ]
        try:
            reply = self._ask(messages)
        except Exception as exc:  # evaluate never raises: a judge that fails leaves the verdict unknown, with why
            return Verdict(self.name, None, reason=_error_words(exc))
        if reply is None:
            return Verdict(self.name, None, reason="the judge's answer was withheld by a content filter")
        return self._choice_verdict(reply) if self.choices is not None else self._score_verdict(reply)

    def _ask(self, messages: list[dict[str, str]]) -> str | None:
        params: dict[str, Any] = {"temperature": 0, "max_tokens": self.max_tokens}
        with tracing.action(JUDGE_ACTION):
            while True:
                try:
                    result = self.client().chat(messages, **params)
                    break
                except UnsupportedParameterError as exc:
                    # A deployment that refuses temperature (reasoning models) is asked again without it.
                    if exc.param not in params:
                        raise
                    params.pop(exc.param)
        return None if result.content_filtered and not result.content else result.content

    def _score_verdict(self, reply: str) -> Verdict:
        found = parse_score(reply)
        if found is None:
            return Verdict(self.name, None, reason=NOT_A_SCORE + reply.strip()[:80])
        passed = found.score >= (self.pass_mark or DEFAULT_PASS_MARK)
        reason = f"{found.score}/5: {found.reason}" if found.reason else f"{found.score}/5"
        return Verdict(self.name, passed, score=float(found.score), reason=reason[:REASON_CHARS])

    def _choice_verdict(self, reply: str) -> Verdict:
        text = reply.strip().lower()
        for choice in self.choices or []:
            if str(choice["choice"]).lower() in text:
                score = float(choice["score"])
                passed = score > 0 if self.pass_mark is None else score >= self.pass_mark
                return Verdict(
                    self.name, passed, score=score, reason=f"the judge chose {quoted(str(choice['choice']))}"
                )
        return Verdict(self.name, None, reason="the judge's answer matches none of the choices: " + reply.strip()[:80])


def _checked_choices(name: str, choices: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    if choices is None:
        return None
    checked = []
    for item in choices:
        if (
            not isinstance(item, Mapping)
            or not str(item.get("choice", "")).strip()
            or isinstance(item.get("score"), bool)
            or not isinstance(item.get("score"), int | float)
        ):
            raise EvalError(f"Evaluator {name!r}: each choice needs a text `choice` and a number `score`.")
        checked.append({"choice": str(item["choice"]), "score": item["score"]})
    if not checked:
        raise EvalError(f"Evaluator {name!r}: the list of choices is empty; give at least one.")
    return checked


def _error_words(error: BaseException | None) -> str:
    """The failed call's words (InferenceError's line already names the deployment and never a secret)."""
    if error is None:
        return "the call failed"
    if isinstance(error, InferenceError):
        return str(error)
    return f"{type(error).__name__}: {error}"
