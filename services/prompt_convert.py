"""Converting a prompt between `.prompty` and `.prompt.yml`: templates translated, what the target format cannot hold
left out, and each thing left out named in `notices`."""

from __future__ import annotations

from services.prompt_model import ModelRef, Prompt, PromptConvertError, PromptFormat, PromptVariable
from services.prompt_render import ROLE_LINE
from services.prompt_syntax import jinja_to_placeholders, mustache_to, placeholders_to_jinja
from services.prompt_yaml import PARAMETERS


def convert(prompt: Prompt, target: PromptFormat) -> Prompt:
    """The prompt as the target format holds it: templates translated, what it cannot hold left out (see notices).

    Raises PromptConvertError when a template cannot be expressed (Jinja2 logic in a .prompt.yml, a Mustache section).
    """
    if prompt.source_format == target:
        return prompt
    out = prompt.model_copy(deep=True)
    out.source_format, out.path, out.token = target, None, None
    notices: list[str] = []
    if target == "prompt.yml":
        _to_yml(out, notices)
    else:
        _to_prompty(out, notices)
    # A prompt made in the playground (no source format) keeps what a .prompty can hold; one from the other format
    # loses the fields and parameters only that format has, and .prompt.yml has no place for other parameters.
    from_other = prompt.source_format is not None
    if prompt.extra and from_other:
        notices.append(f"Fields only the source format has are left out: {', '.join(sorted(prompt.extra))}.")
        out.extra = {}
    if prompt.parameters.extra and (from_other or target == "prompt.yml"):
        names = ", ".join(sorted(prompt.parameters.extra))
        notices.append(f"Model parameters the target format has no place for are left out: {names}.")
        out.parameters.extra = {}
    out.notices = notices
    return out


def _to_yml(out: Prompt, notices: list[str]) -> None:
    for index, message in enumerate(out.messages):
        where = f"message {index + 1} ({message.role})"
        if out.syntax == "jinja2":
            message.content = jinja_to_placeholders(message.content, where)
        elif out.syntax == "mustache":
            message.content = mustache_to(message.content, "placeholders", where)
    if out.syntax == "mustache":
        notices.append("Mustache's HTML escaping of {{name}} is not kept: .prompt.yml substitutes values as they are.")
    out.syntax, out.template_setting = "placeholders", None
    for ours, _, _, gh_reads in PARAMETERS:
        if not gh_reads and getattr(out.parameters, ours) is not None:
            notices.append(
                f"{ours} is not a .prompt.yml model parameter (gh models reads maxTokens, temperature, topP): left out."
            )
            setattr(out.parameters, ours, None)
    if out.model.api == "completion":
        notices.append("model.api completion has no .prompt.yml field: left out.")
    extra_model = [k for k in ("type", "endpoint", "api_version") if getattr(out.model, k)]
    if extra_model:
        notices.append(f"model configuration ({', '.join(extra_model)}) has no .prompt.yml field: left out.")
    defaults = {name: v.default for name, v in out.variables.items() if v.default is not None}
    if defaults and not out.test_data:
        out.test_data = [defaults]
        notices.append("Input defaults are written as the first testData row.")
    described = [name for name, v in out.variables.items() if v.type or v.description or v.extra]
    if described:
        notices.append(f"Input types and descriptions ({', '.join(described)}) have no .prompt.yml field: left out.")
    if out.outputs is not None:
        notices.append("outputs has no .prompt.yml field: left out.")
    if out.sample_ref and not out.test_data:
        notices.append(f"sample {out.sample_ref!r} is a file reference .prompt.yml cannot hold: left out.")
    out.model = ModelRef(deployment=out.model.deployment)
    out.variables = {name: PromptVariable(name=name) for name in out.variables}
    out.outputs, out.sample_ref, out.authors, out.tags, out.version = None, None, [], [], None


def _to_prompty(out: Prompt, notices: list[str]) -> None:
    for index, message in enumerate(out.messages):
        where = f"message {index + 1} ({message.role})"
        if ROLE_LINE.search(message.content + "\n"):
            raise PromptConvertError(
                f"{where}: a line of it reads as a role line ('user:' ...), which would split it in a .prompty."
            )
        if out.syntax == "placeholders":
            message.content = placeholders_to_jinja(message.content, where)
        message.content = message.content.strip()
    out.syntax = "jinja2" if out.syntax == "placeholders" else out.syntax
    if len(out.test_data) > 1:
        notices.append(f"Prompty holds one sample: the other {len(out.test_data) - 1} test data row(s) are left out.")
        out.test_data = out.test_data[:1]
    if out.evaluators:
        notices.append("Prompty has no evaluators: they are left out.")
        out.evaluators = []
