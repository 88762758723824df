"""Blind mode's mask: deployment, model and endpoint names replaced in texts and in copies of errors."""

from __future__ import annotations

from services.blind_mask import ENDPOINT_WORD, HIDDEN_NAME, blind_mask, model_family
from services.errors import AuthenticationError, EndpointUnavailableError, UnsupportedParameterError

MASK = blind_mask(
    {"Model A": ["zircon", "zircon-large", "obsidian-7b", None], "Model B": ["quartz", ""]},
    ["https://contoso-gpt.openai.azure.com/openai/deployments/zircon", None],
)


def test_names_are_replaced_whatever_their_case_and_the_longest_first():
    text = "ZIRCON-Large answered; zircon and Obsidian-7B and quartz did too"
    assert MASK.text(text) == "Model A answered; Model A and Model A and Model B did too"


def test_an_endpoint_and_its_host_are_named_as_the_endpoint():
    url = "https://contoso-gpt.openai.azure.com/openai/deployments/zircon"
    text = f"{url}/ refused; contoso-gpt.openai.azure.com is down"
    assert MASK.text(text) == f"{ENDPOINT_WORD}/ refused; {ENDPOINT_WORD} is down"


def test_a_masked_error_names_the_label_and_leaves_the_original_untouched():
    err = AuthenticationError("zircon says: model obsidian-7b needs a key", deployment="zircon", status=401)
    masked = MASK.error(err, "Model A")
    assert isinstance(masked, AuthenticationError)
    assert masked.deployment == "Model A" and str(masked) == "Model A: Model A says: model Model A needs a key [401]"
    assert err.deployment == "zircon" and "obsidian" in str(err)


def test_errors_with_keyword_fields_and_details_are_masked_everywhere():
    err = EndpointUnavailableError(
        "quartz unreachable", deployment="quartz", host="contoso-gpt.openai.azure.com", reason="zircon timed out"
    )
    masked = MASK.error(err, "Model B")
    assert (masked.host, masked.reason, masked.deployment) == (ENDPOINT_WORD, "Model A timed out", "Model B")
    rejected = UnsupportedParameterError(
        "tools not supported by obsidian-7b", deployment="zircon", param="tools", value={"model": "obsidian-7b"}
    )
    shown = MASK.error(rejected, "Model A")
    assert shown.value == {"model": "Model A"} and "obsidian" not in str(shown)


def test_a_plain_exception_is_masked_by_its_message():
    masked = MASK.error(ValueError("zircon broke"), "Model A")
    assert type(masked) is ValueError and str(masked) == "Model A broke"


def test_an_answer_hides_names_families_and_makers_as_whole_words_only():
    mask = blind_mask(
        {"Model A": ["zircon", "Obsidian-7B-Chat"], "Model B": ["phi"]},
        ["http://127.0.0.1:9"],
        [*model_family("Obsidian-7B-Chat"), *model_family("Meta-Llama-3.1-8B"), "Contoso", None],
    )
    answer = "I am Obsidian, made by CONTOSO; not Llama. Philosophy and graphics stay; phi and zircon do not."
    assert mask.answer(answer) == (
        f"I am {HIDDEN_NAME}, made by {HIDDEN_NAME}; not {HIDDEN_NAME}. Philosophy and graphics stay; "
        f"{HIDDEN_NAME} and {HIDDEN_NAME} do not."
    )
    assert mask.answer('{"city": "Oslo"}') == '{"city": "Oslo"}'  # nothing to hide: the text as it was


def test_a_model_family_is_its_leading_parts_without_common_words():
    assert model_family("SmolLM2-135M-Instruct") == ["SmolLM2", "SmolLM"]
    assert model_family("Meta-Llama-3.1-8B") == ["Meta", "Llama"]
    assert model_family("gpt-4o") == ["gpt"]
    assert model_family("text-embedding-3-small") == []  # "text" and "embedding" are words answers use
    assert model_family("o3-mini") == []  # too short to hide without eating other words
