"""A `.prompt.yml` file's `evaluators` (GitHub Models) as our EvaluatorSpecs, with a note where they map approximately.

Field names and behaviour follow github/gh-models: pkg/prompt/prompt.go (Evaluator{name, string, llm, uses};
StringEvaluator{endsWith, startsWith, contains, equals}; LLMEvaluator{modelId, prompt, choices[{choice, score}],
systemPrompt}) and cmd/eval/eval.go + cmd/eval/builtins.go (string checks: `equals` exact on the trimmed answer, the
others case-insensitive, only the first key set counts; `llm`: the first choice the judge's answer contains, passing
when its score is above 0; `uses: github/<similarity|coherence|fluency|relevance|groundedness>`: LLM judges that rate
1-5, with `{{input}}`, `{{expected}}` and `{{completion}}` in their prompts). The built-in rubrics here are our own
wording of the same measures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from services.config import Deployment
from services.eval_model import EvalError, EvaluatorSpec
from services.prompt_model import ModelRef
from services.prompts import choose_deployment

SOURCE = "prompt.yml"
REPLY = 'Reply with one JSON object and nothing else: {"score": <1 to 5>, "reason": "<one short sentence>"}'
BUILTIN_RUBRICS: dict[str, str] = {
    "similarity": (
        "Rate how close in meaning the answer is to the correct answer, from 1 to 5: 1 = not similar at all; "
        "2 = mostly different; 3 = partly the same; 4 = mostly the same meaning; 5 = the same meaning.\n\n"
        "Question:\n{{input}}\n\nCorrect answer:\n{{expected}}\n\nAnswer to rate:\n{{answer}}\n\n" + REPLY
    ),
    "coherence": (
        "Rate the coherence of the response to the query, from 1 to 5: how logically its ideas are ordered and "
        "connected, so a reader can follow it. 1 = disjointed words; 2 = fragments with little structure; "
        "3 = on topic but with unclear links or order; 4 = well organised and easy to follow; "
        "5 = seamless, precise and thorough.\n\nQuery:\n{{input}}\n\nResponse:\n{{answer}}\n\n" + REPLY
    ),
    "fluency": (
        "Rate the fluency of the response, from 1 to 5: grammar, vocabulary, sentence structure and readability. "
        "1 = barely understandable; 2 = frequent errors, very simple sentences; 3 = clear with occasional errors; "
        "4 = well written with varied vocabulary; 5 = flawless and eloquent.\n\nResponse:\n{{answer}}\n\n" + REPLY
    ),
    "relevance": (
        "Rate how well the response addresses the query, from 1 to 5. 1 = unrelated; 2 = on topic but wrong; "
        "3 = right but incomplete; 4 = right and complete; 5 = right, complete and adds useful insight.\n\n"
        "Query:\n{{input}}\n\nResponse:\n{{answer}}\n\n" + REPLY
    ),
    "groundedness": (
        "Rate how well the response is grounded in the context, from 1 to 5, using only the context. "
        "1 = unrelated to the query and context; 2 = on topic but does not answer the query; 3 = answers with "
        "information the context does not support; 4 = correct but missing details from the context; "
        "5 = correct and complete by the context.\n\nContext:\n{{expected}}\n\nQuery:\n{{input}}\n\n"
        "Response:\n{{answer}}\n\n" + REPLY
    ),
}
NEEDS_EXPECTED = ("similarity", "groundedness")
JUDGE_NOTE = (
    "gh models rates github/{0} 1-5 with an LLM and passes any rating above 1; here the judge deployment rates it "
    "1-5 with this playground's rubric and a rating of 4 or more passes."
)
EMBEDDINGS_NOTE = (
    "gh models rates github/similarity with an LLM judge; here it is the cosine similarity of embeddings, "
    "passing at the threshold."
)
# gh's string keys in the order its eval checks them (only the first one set counts), and our kind for each.
STRING_KINDS = (("equals", "exact"), ("contains", "contains"), ("startsWith", "starts_with"), ("endsWith", "ends_with"))


def from_prompt_file(
    entries: Sequence[Mapping[str, Any]],
    *,
    judge_deployment: str | None = None,
    deployments: Mapping[str, Deployment] | None = None,
    similarity: Literal["judge", "embeddings"] = "judge",
    embeddings_deployment: str | None = None,
) -> list[EvaluatorSpec]:
    """Our specs for a prompt file's evaluators (Prompt.evaluators). `llm` entries judge with the deployment their
    `modelId` names among `deployments`, else `judge_deployment`; `github/...` ones with `judge_deployment`
    (`github/similarity` with `embeddings_deployment` when `similarity` is "embeddings"). A deployment left None
    must be chosen before the run (build_evaluator says so). EvalError names an entry that cannot be mapped."""
    return [
        _spec(entry, index, judge_deployment, deployments, similarity, embeddings_deployment)
        for index, entry in enumerate(entries)
    ]


def _spec(
    entry: Mapping[str, Any],
    index: int,
    judge_deployment: str | None,
    deployments: Mapping[str, Deployment] | None,
    similarity: str,
    embeddings_deployment: str | None,
) -> EvaluatorSpec:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise EvalError(f"Evaluator {index + 1} of the prompt file has no name; give it one.")
    name = entry["name"]
    if isinstance(entry.get("string"), Mapping):
        return _string_spec(name, entry["string"])
    if isinstance(entry.get("llm"), Mapping):
        llm = entry["llm"]
        model = llm.get("modelId")
        found = choose_deployment(ModelRef(deployment=str(model)), deployments) if model and deployments else None
        settings: dict[str, Any] = {
            "deployment": found or judge_deployment,
            "rubric": str(llm.get("prompt") or ""),
            "system": llm.get("systemPrompt") or None,
            "choices": [dict(choice) for choice in llm.get("choices") or []],
            "source": SOURCE,
        }
        if not found and model:
            settings["note"] = f"gh models judges with {model}; here the chosen judge deployment does."
        return EvaluatorSpec("judge", name, settings)
    uses = entry.get("uses")
    if isinstance(uses, str) and uses:
        builtin = uses.removeprefix("github/") if uses.startswith("github/") else None
        if builtin not in BUILTIN_RUBRICS:
            known = ", ".join(f"github/{key}" for key in BUILTIN_RUBRICS)
            raise EvalError(
                f"Evaluator {name!r} uses {uses!r}, which this playground does not know; use one of {known}."
            )
        if builtin == "similarity" and similarity == "embeddings":
            settings = {"deployment": embeddings_deployment, "note": EMBEDDINGS_NOTE, "source": SOURCE}
            return EvaluatorSpec("similarity", name, settings)
        settings = {
            "deployment": judge_deployment,
            "rubric": BUILTIN_RUBRICS[builtin],
            "requires_expected": builtin in NEEDS_EXPECTED,
            "note": JUDGE_NOTE.format(builtin),
            "source": SOURCE,
        }
        return EvaluatorSpec("judge", name, settings)
    raise EvalError(f"Evaluator {name!r} of the prompt file has none of string, llm or uses; give it one.")


def _string_spec(name: str, checks: Mapping[str, Any]) -> EvaluatorSpec:
    given = [(key, kind) for key, kind in STRING_KINDS if checks.get(key) not in (None, "")]
    if not given:
        raise EvalError(f"Evaluator {name!r}: its string check needs one of equals, contains, startsWith, endsWith.")
    key, kind = given[0]
    text = str(checks[key])
    settings: dict[str, Any] = {"source": SOURCE}
    if kind == "exact":
        settings.update(value=text, ignore_case=False, trim=True)
    else:
        settings.update(text=text, ignore_case=True)  # gh compares these lower-cased
    if len(given) > 1:
        ignored = ", ".join(other for other, _ in given[1:])
        settings["note"] = f"gh models checks only {key} when several are set; {ignored} is ignored here too."
    return EvaluatorSpec(kind, name, settings)
