"""Deterministic evaluators: each passes and fails where it should, a row without the value it compares with is a
verdict of None with a reason, and a broken evaluator (bad regex, invalid schema, unknown setting) is refused when
it is made."""

from __future__ import annotations

import re

import pytest

from services.config import Deployment
from services.eval_build import build_evaluator, build_evaluators
from services.eval_checks import (
    REGEX_MAX_CHARS,
    Affix,
    Contains,
    ExactMatch,
    JsonSchemaMatch,
    LengthBounds,
    RegexMatch,
    ValidJson,
    json_text,
)
from services.eval_judge import JudgeEvaluator, SimilarityEvaluator
from services.eval_model import EvalError, EvaluatorSpec, Verdict

ROW = {"country": "France", "expected": "Paris"}
SCHEMA = {
    "type": "object",
    "required": ["city", "population"],
    "properties": {"city": {"type": "string"}, "population": {"type": "integer", "minimum": 0}},
}


def test_exact_match_passes_on_the_expected_answer_after_trimming() -> None:
    verdict = ExactMatch("exact").evaluate("  Paris\n", ROW)
    assert verdict == Verdict("exact", True, reason="the answer matches")


def test_exact_match_fails_on_case_unless_told_to_ignore_it() -> None:
    failed = ExactMatch("exact").evaluate("paris", ROW)
    assert failed.passed is False and failed.reason == "expected 'Paris', got 'paris'"
    assert ExactMatch("exact", ignore_case=True).evaluate("PARIS", ROW).passed is True


def test_exact_match_without_trim_fails_on_surrounding_space() -> None:
    assert ExactMatch("exact", trim=False).evaluate("Paris ", ROW).passed is False


def test_exact_match_with_a_fixed_value_ignores_the_row() -> None:
    assert ExactMatch("exact", value="yes").evaluate("yes", {}).passed is True


@pytest.mark.parametrize("row", [{"country": "France"}, {"country": "France", "expected": ""}])
def test_exact_match_without_expected_is_none_with_a_reason(row: dict[str, str]) -> None:
    verdict = ExactMatch("exact").evaluate("Paris", row)
    assert verdict.passed is None and verdict.reason == "the row has no expected answer to compare with"


def test_contains_finds_text_and_row_columns() -> None:
    assert Contains("c", "capital").evaluate("Paris is the capital.", ROW).passed is True
    assert Contains("c", "{{expected}} is").evaluate("Paris is the capital.", ROW).passed is True
    failed = Contains("c", "{{country}}").evaluate("Paris is the capital.", ROW)
    assert failed.passed is False and failed.reason == "the answer does not contain 'France'"


def test_contains_is_case_sensitive_unless_told_otherwise() -> None:
    assert Contains("c", "PARIS").evaluate("paris", ROW).passed is False
    assert Contains("c", "PARIS", ignore_case=True).evaluate("paris", ROW).passed is True


def test_not_contains_passes_when_the_text_is_absent_and_fails_when_present() -> None:
    absent = Contains("nc", "sorry", negate=True).evaluate("Paris.", ROW)
    present = Contains("nc", "Sorry", negate=True, ignore_case=True).evaluate("sorry, I cannot", ROW)
    assert absent.passed is True and absent.reason == "the answer does not contain 'sorry'"
    assert present.passed is False and present.reason == "the answer contains 'Sorry'"
    assert Contains("nc", "x", negate=True).kind == "not_contains"


def test_contains_with_a_column_the_row_lacks_is_none_naming_it() -> None:
    verdict = Contains("c", "{{city}}").evaluate("Paris", ROW)
    assert verdict.passed is None and verdict.reason == "the row has no value for 'city'"


def test_starts_with_and_ends_with_compare_the_trimmed_answer() -> None:
    assert Affix("s", "Paris").evaluate("  Paris is big", ROW).passed is True
    assert Affix("e", "big.", at_end=True).evaluate("Paris is big.\n", ROW).passed is True
    failed = Affix("s", "Answer:").evaluate("Paris", ROW)
    assert failed.passed is False and failed.reason == "the answer does not start with 'Answer:': 'Paris'"
    assert Affix("s", "paris", ignore_case=True).evaluate("PARIS!", ROW).passed is True
    assert Affix("e", "{{expected}}", at_end=True).evaluate("The answer is Paris", ROW).passed is True


def test_regex_searches_the_answer() -> None:
    passed = RegexMatch("r", r"\b\d{4}\b").evaluate("It opened in 1889.", ROW)
    assert passed.passed is True and passed.reason == "matched '1889'"
    assert RegexMatch("r", r"^paris$", ignore_case=True).evaluate("Paris", ROW).passed is True
    assert RegexMatch("r", r"^\d+$").evaluate("twelve", ROW).passed is False


def test_regex_searches_only_the_first_characters_of_a_huge_answer_and_says_so() -> None:
    huge = "1" * 2_000_000
    # Quadratic backtracking: over the whole answer this search would run for hours (pytest-timeout ends the test).
    verdict = RegexMatch("r", r"\d*x").evaluate(huge, ROW)
    assert verdict.passed is False
    assert f"only the first {REGEX_MAX_CHARS:,} of 2,000,000 characters were searched" in verdict.reason
    late = "a" * REGEX_MAX_CHARS + "Paris"
    assert RegexMatch("r", "Paris").evaluate(late, ROW).passed is False  # past the cut: not searched
    early = RegexMatch("r", "Paris").evaluate("Paris" + "a" * REGEX_MAX_CHARS, ROW)
    assert early.passed is True and "only the first" in early.reason
    assert "only the first" not in RegexMatch("r", "Paris").evaluate("Paris", ROW).reason


def test_a_regex_that_backtracks_without_end_is_stopped_at_its_time_limit_and_judges_nothing() -> None:
    # (a|aa)+$ against a run of a's ending in b tries every split of the run: 2^40 paths without the limit.
    evaluator = RegexMatch("r", r"(a|aa)+$", timeout_s=0.2)
    verdict = evaluator.evaluate("a" * 40 + "b", ROW)
    assert verdict.passed is None
    assert "took longer than 0.2 s" in verdict.reason and "(a|aa)+$" in verdict.reason
    assert evaluator.evaluate("aaaa", ROW).passed is True  # the same pattern on a kind answer still judges


def test_regex_keeps_the_re_dialect() -> None:
    # `regex` VERSION0 reads a pattern as `re` does (VERSION1 would read [[a]] as a nested set).
    cases = [(r"[[a]]", "[]"), (r"[[a]]", "a"), (r"(?P<year>\d{4})", "in 1889"), (r"\bx\b", "a x")]
    for pattern, answer in cases:
        expected = re.search(pattern, answer) is not None
        assert RegexMatch("r", pattern).evaluate(answer, ROW).passed is expected, pattern


def test_invalid_regex_is_refused_at_construction_naming_pattern_and_error() -> None:
    with pytest.raises(EvalError) as info:
        RegexMatch("year", "([0-9]+")
    message = str(info.value)
    assert "'year'" in message and "'([0-9]+'" in message and "missing )" in message


def test_length_bounds_count_characters() -> None:
    check = LengthBounds("len", min_chars=3, max_chars=10)
    assert check.evaluate("Paris", ROW) == Verdict("len", True, reason="5 characters")
    assert check.evaluate("Hi", ROW).reason == "2 characters, under the minimum of 3"
    assert check.evaluate("A long answer", ROW).reason == "13 characters, over the maximum of 10"
    assert LengthBounds("len", max_chars=0).evaluate("  ", ROW).passed is True


@pytest.mark.parametrize(("low", "high"), [(None, None), (5, 2), (-1, None), (None, 2.5)])
def test_length_bounds_that_make_no_sense_are_refused(low: int | None, high: int | None) -> None:
    with pytest.raises(EvalError):
        LengthBounds("len", low, high)


def test_valid_json_accepts_plain_and_fenced_json() -> None:
    assert ValidJson("j").evaluate('{"a": 1}', ROW).passed is True
    assert ValidJson("j").evaluate('Here it is:\n```json\n{"a": [1, 2]}\n```\nDone.', ROW).passed is True
    assert ValidJson("j").evaluate("```\n[1]\n```", ROW).passed is True
    assert json_text("```JSON\n{}\n```") == "{}"


def test_valid_json_fails_with_where_the_json_breaks() -> None:
    verdict = ValidJson("j").evaluate('{"a": 1,}', ROW)
    assert (
        verdict.passed is False
        and verdict.reason.startswith("the answer is not JSON (")
        and "column 9" in verdict.reason
    )
    assert ValidJson("j").evaluate("", ROW).reason == "the answer is empty, not JSON"


def test_json_schema_passes_a_matching_answer() -> None:
    verdict = JsonSchemaMatch("s", SCHEMA).evaluate('```json\n{"city": "Paris", "population": 2100000}\n```', ROW)
    assert verdict == Verdict("s", True, reason="the answer matches the schema")


def test_json_schema_failure_names_the_failing_path() -> None:
    verdict = JsonSchemaMatch("s", SCHEMA).evaluate('{"city": "Paris", "population": -5}', ROW)
    assert verdict.passed is False and verdict.reason == "at $.population: -5 is less than the minimum of 0"
    missing = JsonSchemaMatch("s", SCHEMA).evaluate('{"city": "Paris"}', ROW)
    assert missing.reason == "at $: 'population' is a required property"
    nested = {"type": "array", "items": SCHEMA}
    assert (
        JsonSchemaMatch("s", nested).evaluate('[{"city": 1, "population": 1}]', ROW).reason.startswith("at $[0].city:")
    )


def test_json_schema_fails_an_answer_that_is_not_json() -> None:
    assert JsonSchemaMatch("s", SCHEMA).evaluate("Paris", ROW).reason.startswith("the answer is not JSON")


def test_json_schema_accepts_json_text_and_the_prompt_file_wrapper() -> None:
    wrapped = {"name": "city", "strict": True, "schema": SCHEMA}
    assert JsonSchemaMatch("s", wrapped).evaluate('{"city": "x"}', ROW).passed is False
    assert JsonSchemaMatch("s", '{"type": "string"}').evaluate('"Paris"', ROW).passed is True


def test_invalid_json_schema_is_refused_at_construction() -> None:
    with pytest.raises(EvalError, match=r"the JSON Schema is invalid at \$.type: 'strin' is not valid"):
        JsonSchemaMatch("s", {"type": "strin"})
    with pytest.raises(EvalError, match="not JSON"):
        JsonSchemaMatch("s", "{type: string}")


# --- specs -------------------------------------------------------------------------------------------------------

DEPLOYMENTS = {
    "judge-model": Deployment(name="judge-model", endpoint="http://127.0.0.1:9/"),
    "embedder": Deployment(name="embedder", endpoint="http://127.0.0.1:9/"),
}


@pytest.mark.parametrize(
    ("spec", "answer", "passed"),
    [
        (EvaluatorSpec("exact", "e"), "Paris", True),
        (EvaluatorSpec("exact", "e", {"ignore_case": True, "trim": False}), "paris", True),
        (EvaluatorSpec("contains", "c", {"text": "par", "ignore_case": True}), "Paris", True),
        (EvaluatorSpec("not_contains", "n", {"text": "{{country}}"}), "France", False),
        (EvaluatorSpec("starts_with", "s", {"text": "Pa"}), "Paris", True),
        (EvaluatorSpec("ends_with", "d", {"text": "is"}), "Paris", True),
        (EvaluatorSpec("regex", "r", {"pattern": "^P"}), "Paris", True),
        (EvaluatorSpec("length", "l", {"max": 3}), "Paris", False),
        (EvaluatorSpec("json", "j"), "[]", True),
        (EvaluatorSpec("json_schema", "js", {"schema": {"type": "number"}}), "3", True),
    ],
)
def test_build_evaluator_makes_each_deterministic_kind_from_its_spec(
    spec: EvaluatorSpec, answer: str, passed: bool
) -> None:
    evaluator = build_evaluator(spec)
    verdict = evaluator.evaluate(answer, ROW)
    assert evaluator.name == spec.name and verdict.evaluator == spec.name and verdict.passed is passed


def test_build_evaluator_makes_similarity_and_judge_with_their_deployment() -> None:
    similarity = build_evaluator(
        EvaluatorSpec("similarity", "sim", {"deployment": "embedder", "threshold": 0.7}), DEPLOYMENTS
    )
    judge = build_evaluator(EvaluatorSpec("judge", "j", {"deployment": "judge-model", "pass_mark": 3}), DEPLOYMENTS)
    assert isinstance(similarity, SimilarityEvaluator) and similarity.threshold == 0.7
    assert similarity.deployment.name == "embedder"
    assert isinstance(judge, JudgeEvaluator) and judge.pass_mark == 3 and judge.deployment.name == "judge-model"


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (EvaluatorSpec("fuzzy", "f"), "unknown kind 'fuzzy'"),
        (EvaluatorSpec("exact", "e", {"ignorecase": True}), "exact has no setting 'ignorecase'"),
        (EvaluatorSpec("contains", "c"), "contains needs the setting 'text'"),
        (EvaluatorSpec("contains", "c", {"text": ""}), "the text to look for is empty"),
        (EvaluatorSpec("exact", "e", {"trim": "yes"}), "the setting 'trim' has the wrong type (str)"),
        (EvaluatorSpec("regex", "r", {"pattern": "*"}), "not a valid regular expression"),
        (EvaluatorSpec("json_schema", "s", {"schema": {"minimum": "zero"}}), "the JSON Schema is invalid"),
        (EvaluatorSpec("similarity", "sim", {"deployment": None}), "needs an embeddings deployment"),
        (EvaluatorSpec("judge", "j", {"deployment": "gone"}), "uses the deployment 'gone', which is not configured"),
        (EvaluatorSpec("judge", "j", {"deployment": "judge-model", "pass_mark": 7}), "between 1 and 5"),
        (EvaluatorSpec("similarity", "sim", {"deployment": "embedder", "threshold": 2}), "between -1 and 1"),
    ],
)
def test_build_evaluator_refuses_a_spec_that_cannot_work(spec: EvaluatorSpec, words: str) -> None:
    with pytest.raises(EvalError) as info:
        build_evaluator(spec, DEPLOYMENTS)
    assert words in str(info.value) and f"'{spec.name}'" in str(info.value)


def test_notes_and_sources_are_accepted_on_any_spec() -> None:
    spec = EvaluatorSpec("contains", "c", {"text": "a", "note": "mapped", "source": "prompt.yml"})
    assert build_evaluator(spec).evaluate("a", {}).passed is True


def test_build_evaluators_refuses_two_evaluators_with_one_name() -> None:
    specs = [EvaluatorSpec("json", "check"), EvaluatorSpec("exact", "check")]
    with pytest.raises(EvalError, match="Two evaluators are named 'check'"):
        build_evaluators(specs)
    assert [e.name for e in build_evaluators(specs[:1])] == ["check"]
