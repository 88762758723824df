"""Model-based evaluators: the judge's score parser, rubric rendering, the judge and similarity against the fault
server and the real embedded endpoint (its spans read back from the trace store), and `.prompt.yml` evaluators
mapped to specs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services import tracing
from services.config import Deployment
from services.eval_build import build_evaluator, build_evaluators
from services.eval_judge import (
    DEFAULT_RUBRIC,
    JUDGE_ACTION,
    NOT_A_SCORE,
    JudgeEvaluator,
    JudgeScore,
    SimilarityEvaluator,
    from_prompt_file,
    parse_score,
    render_rubric,
    rubric_columns,
)
from services.eval_model import EvalError, EvaluatorSpec
from services.netguard import AddressGuard
from services.prompts import parse_prompt
from services.retry import RetryPolicy
from services.store.embeddings import EmbeddingCache
from services.store.location import data_dir
from services.store.traces import TraceStore
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_body

CHAT = "smollm2-135m-instruct"
TEXT = "all-minilm-l6-v2"
KEY = "sk-judge-test-0123456789"
FAST = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)
ROW = {"question": "What is the capital of France?", "expected": "Paris"}


def fault_deployment(scenario: Scenario, **fields: Any) -> Deployment:
    values: dict[str, Any] = {"name": "judge", "endpoint": scenario.endpoint, "key": KEY, "key_source": "environment"}
    values.update(fields)
    return Deployment(**values)


def judge_spans() -> list[dict[str, Any]]:
    assert tracing.flush(10), "the trace writer did not catch up"
    found = TraceStore(data_dir() / tracing.TRACE_FILE)
    return [
        span for trace in found.traces() if trace["action"] == JUDGE_ACTION for span in found.spans(trace["trace_id"])
    ]


# --- parsing the judge's answer ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "score", "reason"),
    [
        ('{"score": 4, "reason": "Clear and right."}', 4, "Clear and right"),
        ('Sure! ```json\n{"Rating": "5", "explanation": "exact"}\n```', 5, "exact"),
        ("Score: 4 - clear", 4, "clear"),
        ("**Score:** **2**\nMisses the point.", 2, "Misses the point"),
        ("I would rate this 4/5 because it is brief.", 4, "because it is brief"),
        ("3 out of 5", 3, ""),
        ("4", 4, ""),
        ("5. Perfect answer", 5, "Perfect answer"),
        ("Let's think step by step: the answer is right.\nExplanation: brief.\n4", 4, "Let's think step by step"),
        ("Score: 8/10. Then again, 3/5 is fairer.", 3, "is fairer"),
        ('{"score": 9} but Score: 2', 2, ""),
    ],
)
def test_parse_score_finds_the_first_valid_one_to_five(answer: str, score: int, reason: str) -> None:
    found = parse_score(answer)
    assert found is not None and found.score == score and found.reason.startswith(reason)


@pytest.mark.parametrize(
    "answer", ["", "The answer is good.", "Score: 0", "Score: 8/10", "12 apples", '{"score": true}', "1.5 stars"]
)
def test_parse_score_returns_none_without_a_valid_score(answer: str) -> None:
    assert parse_score(answer) is None


REASONS = st.text(alphabet=st.sampled_from("abcdefghij klmnop"), max_size=40)
FORMATS = [
    '{{"score": {s}, "reason": "{r}"}}',
    "Score: {s} - {r}",
    "{r} {s}/5",
    "{s}",
    "{r}\nRating: **{s}**",
    "{r}\n\n{s}",
]


@given(st.integers(1, 5), REASONS, st.sampled_from(FORMATS))
def test_parse_score_reads_every_answer_shape_for_every_score(score: int, reason: str, shape: str) -> None:
    found = parse_score(shape.format(s=score, r=reason))
    assert found is not None and found.score == score


@given(st.text(max_size=200))
def test_parse_score_never_raises_and_gives_one_to_five_or_none(text: str) -> None:
    found = parse_score(text)
    assert found is None or (isinstance(found, JudgeScore) and 1 <= found.score <= 5)
    if not any(digit in text for digit in "12345"):
        assert found is None


# --- the rubric --------------------------------------------------------------------------------------------------


def test_rubric_input_falls_back_to_the_row_and_answer_has_two_names() -> None:
    text, _ = render_rubric("Q: {{input}}\nA: {{answer}} / {{completion}}\nE: {{expected}}", "Lyon", ROW)
    assert text == "Q: question: What is the capital of France?\nA: Lyon / Lyon\nE: Paris"
    own, _ = render_rubric("{{input}}|{{row}}", "x", {"input": "in", "other": "o"})
    assert own == "in|input: in\nother: o"


def test_rubric_naming_a_column_the_row_lacks_is_none_with_why() -> None:
    text, why = render_rubric("{{context}} {{answer}}", "x", ROW)
    assert text is None and why == "the rubric uses {{context}}, which the row does not have"
    assert rubric_columns("{{context}} {{answer}} {{input}} {{expected}}") == ["context"]


def test_rubric_requiring_expected_refuses_a_row_without_one() -> None:
    assert render_rubric(DEFAULT_RUBRIC, "x", {"question": "q"})[0] is not None
    text, why = render_rubric(DEFAULT_RUBRIC, "x", {"question": "q"}, requires_expected=True)
    assert text is None and why == "the row has no expected answer to compare with"


# --- the judge against the fault server ----------------------------------------------------------------------------


def test_judge_answering_score_4_passes_with_its_reason_and_is_traced(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body("Score: 4 - clear")))
    judge = JudgeEvaluator("quality", fault_deployment(scenario), retry_policy=FAST)
    verdict = judge.evaluate("Paris", ROW)
    judge.close()
    assert (verdict.evaluator, verdict.passed, verdict.score, verdict.reason) == ("quality", True, 4.0, "4/5: clear")
    sent = scenario.requests[0].json()
    assert sent["temperature"] == 0 and sent["messages"][0]["role"] == "system"
    assert "Answer to rate:\nParis" in sent["messages"][1]["content"]
    assert "question: What is the capital of France?" in sent["messages"][1]["content"]
    [span] = judge_spans()
    assert (span["operation"], span["status"], span["deployment"]) == ("chat", "ok", "judge")
    assert json.loads(span["answer"])["content"] == "Score: 4 - clear"


def test_judge_score_under_the_pass_mark_fails(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body('{"score": 3, "reason": "vague"}')))
    verdict = JudgeEvaluator("q", fault_deployment(scenario), pass_mark=4).evaluate("Paris", ROW)
    assert (verdict.passed, verdict.score, verdict.reason) == (False, 3.0, "3/5: vague")


def test_judge_answer_without_a_score_is_none_quoting_it(fault_server: FaultServer) -> None:
    words = "I am not able to grade this answer because " + "x" * 100
    scenario = fault_server.scenario(Reply(json=chat_body(words)))
    verdict = JudgeEvaluator("q", fault_deployment(scenario)).evaluate("Paris", ROW)
    assert verdict.passed is None and verdict.score is None and verdict.reason == NOT_A_SCORE + words[:80]


def test_judge_422_is_a_verdict_with_the_errors_words(fault_server: FaultServer) -> None:
    body = {"error": {"code": "invalid_request", "message": "The prompt is too long for this model."}}
    scenario = fault_server.scenario(Reply(status=422, json=body))
    verdict = JudgeEvaluator("q", fault_deployment(scenario)).evaluate("Paris", ROW)
    assert verdict.passed is None and "The prompt is too long for this model" in verdict.reason
    assert "judge" in verdict.reason and "422" in verdict.reason and KEY not in verdict.reason


def test_judge_429_after_its_retries_is_a_verdict_not_an_exception(fault_server: FaultServer) -> None:
    body = {"error": {"code": "RateLimitReached", "message": "Rate limit reached."}}
    scenario = fault_server.scenario(Reply(status=429, json=body, headers={"retry-after": "0"}))
    deployment = fault_deployment(scenario, max_retries=2)
    verdict = JudgeEvaluator("q", deployment, retry_policy=FAST).evaluate("Paris", ROW)
    assert verdict.passed is None and "429" in verdict.reason and len(scenario.requests) == 3


def test_judge_timeout_is_a_verdict_with_why(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body("5"), first_byte_delay=2.0))
    deployment = fault_deployment(scenario, read_timeout=0.3, max_retries=0)
    verdict = JudgeEvaluator("q", deployment).evaluate("Paris", ROW)
    assert verdict.passed is None and "time" in verdict.reason.lower()


def test_judge_that_refuses_temperature_is_asked_again_without_it(fault_server: FaultServer) -> None:
    refused = {"status": 422, "code": "parameter_not_supported", "detail": {"loc": ["body", "temperature"], "input": 0}}
    scenario = fault_server.scenario(Reply(status=422, json=refused), Reply(json=chat_body("Score: 5")))
    verdict = JudgeEvaluator("q", fault_deployment(scenario)).evaluate("Paris", ROW)
    assert verdict.passed is True and verdict.score == 5.0
    assert "temperature" in scenario.requests[0].json() and "temperature" not in scenario.requests[1].json()


def test_judge_with_choices_scores_the_first_choice_its_answer_contains(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body("I think it is Good overall.")))
    choices = [{"choice": "bad", "score": 0}, {"choice": "good", "score": 1}]
    judge = JudgeEvaluator("g", fault_deployment(scenario), rubric="Grade {{completion}}", choices=choices)
    verdict = judge.evaluate("Paris", ROW)
    assert (verdict.passed, verdict.score, verdict.reason) == (True, 1.0, "the judge chose 'good'")
    assert scenario.requests[0].json()["messages"][-1]["content"] == "Grade Paris"


def test_judge_rubric_missing_a_column_sends_nothing(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body("5")))
    verdict = JudgeEvaluator("q", fault_deployment(scenario), rubric="{{context}}: {{answer}}").evaluate("x", ROW)
    assert verdict.passed is None and "{{context}}" in verdict.reason and scenario.requests == []


# --- against the real embedded endpoint ---------------------------------------------------------------------------


def test_judge_on_the_embedded_chat_model_gives_a_parsed_score_or_none_and_a_span(
    local_deployments: dict[str, Deployment],
) -> None:
    judge = JudgeEvaluator("quality", local_deployments[CHAT], max_tokens=16)
    verdict = judge.evaluate("Paris", ROW)
    judge.close()
    [span] = judge_spans()
    assert (span["operation"], span["status"], span["deployment"]) == ("chat", "ok", CHAT)
    said = json.loads(span["answer"])["content"]
    parsed = parse_score(said)
    if parsed is None:
        assert verdict.passed is None and verdict.reason == NOT_A_SCORE + said.strip()[:80]
    else:
        assert verdict.score == parsed.score and verdict.passed is (parsed.score >= 4)


def test_similarity_of_identical_texts_passes_near_one(local_deployments: dict[str, Deployment]) -> None:
    similarity = SimilarityEvaluator("sim", local_deployments[TEXT], threshold=0.95)
    verdict = similarity.evaluate("The cat sat on the mat.", {"expected": "The cat sat on the mat."})
    similarity.close()
    assert verdict.passed is True and verdict.score is not None and verdict.score > 0.99
    assert verdict.reason.startswith("cosine 1.000 >= 0.95")


def test_similarity_ranks_a_paraphrase_over_an_unrelated_answer(
    local_deployments: dict[str, Deployment], tmp_path: Any
) -> None:
    cache = EmbeddingCache(tmp_path / "vectors.sqlite")
    similarity = SimilarityEvaluator("sim", local_deployments[TEXT], threshold=0.6, cache=cache)
    row = {"expected": "Paris is the capital of France."}
    close = similarity.evaluate("The capital of France is Paris.", row)
    far = similarity.evaluate("Bananas are rich in potassium.", row)
    similarity.close()
    assert close.score is not None and far.score is not None and close.score > far.score
    assert close.passed is True and far.passed is False and far.reason.startswith(f"cosine {far.score:.3f} < 0.6")
    assert cache.count() == 3  # the expected answer was embedded once


def test_similarity_without_expected_or_answer_sends_nothing(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(status=500, json={"error": {"message": "boom"}}))
    similarity = SimilarityEvaluator("sim", fault_deployment(scenario))
    assert similarity.evaluate("x", {"question": "q"}).passed is None
    empty = similarity.evaluate("  ", {"expected": "Paris"})
    assert (empty.passed, empty.reason) == (False, "the answer is empty") and scenario.requests == []


def test_similarity_call_error_is_a_verdict_with_the_errors_words(fault_server: FaultServer) -> None:
    body = {"error": {"code": "bad", "message": "Input is not supported by this deployment."}}
    scenario = fault_server.scenario(Reply(status=400, json=body))
    verdict = SimilarityEvaluator("sim", fault_deployment(scenario, max_retries=0)).evaluate("x", {"expected": "y"})
    assert verdict.passed is None and "Input is not supported by this deployment" in verdict.reason


# --- .prompt.yml evaluators ----------------------------------------------------------------------------------------

YML = """\
name: Capitals
model: openai/gpt-4o-mini
messages:
  - role: user
    content: What is the capital of {{country}}?
testData:
  - country: France
    expected: Paris
evaluators:
  - name: says-paris
    string:
      contains: PARIS
  - name: exact
    string:
      equals: Paris
  - name: starts
    string:
      startsWith: the
  - name: ends
    string:
      endsWith: paris.
  - name: similar
    uses: github/similarity
  - name: coherent
    uses: github/coherence
  - name: grounded
    uses: github/groundedness
  - name: custom
    llm:
      modelId: openai/gpt-4o
      systemPrompt: You grade.
      prompt: "Is {{completion}} right for {{country}}? Answer good or bad."
      choices:
        - choice: good
          score: 1
        - choice: bad
          score: 0
"""


def test_prompt_file_evaluators_map_to_specs_of_our_kinds() -> None:
    prompt = parse_prompt(YML, "prompt.yml", "capitals.prompt.yml")
    specs = from_prompt_file(prompt.evaluators, judge_deployment="judge-model")
    kinds = [(spec.kind, spec.name) for spec in specs]
    assert kinds == [
        ("contains", "says-paris"),
        ("exact", "exact"),
        ("starts_with", "starts"),
        ("ends_with", "ends"),
        ("judge", "similar"),
        ("judge", "coherent"),
        ("judge", "grounded"),
        ("judge", "custom"),
    ]
    by_name = {spec.name: spec for spec in specs}
    assert by_name["says-paris"].settings["ignore_case"] is True and by_name["exact"].settings["ignore_case"] is False
    assert (
        by_name["similar"].settings["requires_expected"] is True and "gh models" in by_name["similar"].settings["note"]
    )
    assert by_name["coherent"].settings["requires_expected"] is False
    assert by_name["custom"].settings["choices"] == [{"choice": "good", "score": 1}, {"choice": "bad", "score": 0}]
    assert "openai/gpt-4o" in by_name["custom"].settings["note"]


def test_prompt_file_evaluators_build_and_judge_string_checks_as_gh_does() -> None:
    prompt = parse_prompt(YML, "prompt.yml", "capitals.prompt.yml")
    deployments = {"judge-model": Deployment(name="judge-model", endpoint="http://127.0.0.1:9/")}
    evaluators = build_evaluators(from_prompt_file(prompt.evaluators, judge_deployment="judge-model"), deployments)
    verdicts = {e.name: e.evaluate(" The capital is Paris. ", {"country": "France"}) for e in evaluators[:4]}
    assert {name: v.passed for name, v in verdicts.items()} == {
        "says-paris": True,
        "exact": False,
        "starts": True,
        "ends": True,
    }


def test_llm_model_id_picks_a_matching_deployment() -> None:
    entries = [{"name": "c", "llm": {"modelId": "openai/gpt-4o", "prompt": "{{completion}}", "choices": []}}]
    deployments = {"gpt-4o": Deployment(name="gpt-4o", endpoint="http://127.0.0.1:9/")}
    [spec] = from_prompt_file(entries, judge_deployment="other", deployments=deployments)
    assert spec.settings["deployment"] == "gpt-4o" and "note" not in spec.settings


def test_github_similarity_may_map_to_embeddings_with_a_note() -> None:
    [spec] = from_prompt_file(
        [{"name": "s", "uses": "github/similarity"}], similarity="embeddings", embeddings_deployment="e"
    )
    assert spec == EvaluatorSpec("similarity", "s", spec.settings) and spec.settings["deployment"] == "e"
    assert "embeddings" in spec.settings["note"]


def test_unknown_uses_is_refused_naming_it() -> None:
    with pytest.raises(EvalError) as info:
        from_prompt_file([{"name": "tox", "uses": "github/toxicity"}])
    assert "'github/toxicity'" in str(info.value) and "github/similarity" in str(info.value)


def test_judge_mapped_without_a_deployment_asks_for_one_when_built() -> None:
    [spec] = from_prompt_file([{"name": "fl", "uses": "github/fluency"}])
    with pytest.raises(EvalError, match="needs a chat deployment to judge with"):
        build_evaluator(spec, {})


def test_string_entry_with_several_keys_uses_the_first_as_gh_does_and_says_so() -> None:
    [spec] = from_prompt_file([{"name": "s", "string": {"endsWith": "x", "contains": "y"}}])
    assert spec.kind == "contains" and spec.settings["text"] == "y" and "endsWith is ignored" in spec.settings["note"]


@pytest.mark.parametrize("kind", ["judge", "similarity"])
def test_judge_and_similarity_built_with_a_guard_refusing_the_address_send_nothing(
    fault_server: FaultServer, kind: str
) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body("5")))
    spec = EvaluatorSpec(kind, "guarded", {"deployment": "judge"})
    evaluator = build_evaluator(
        spec, {"judge": fault_deployment(scenario)}, guards={"judge": AddressGuard("public-only")}
    )
    verdict = evaluator.evaluate("Paris", ROW)
    evaluator.close()  # type: ignore[attr-defined]
    assert verdict.passed is None and "loopback" in verdict.reason
    assert scenario.requests == []
