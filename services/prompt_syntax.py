"""The three template syntaxes a prompt may use besides full Jinja2: GitHub's `{{name}}` placeholders (exact text
substitution, as `gh models` does it), the Mustache subset a prompt needs (variables, no sections), and the translation
of message templates between Jinja2, Mustache and placeholders for converting between the two file formats."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from services.prompt_model import PromptConvertError, PromptTemplateError, PromptUndefinedError, TemplateSyntax
from services.prompt_sandbox import line_of, template_error

# GitHub's placeholder: `{{` name `}}` with no spaces (gh replaces the literal text "{{" + key + "}}").
PLACEHOLDER = re.compile(r"\{\{([A-Za-z0-9_][A-Za-z0-9_.\-]*)\}\}")
JINJA_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
JINJA_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}(.*?)\{%-?\s*endraw\s*-?%\}", re.DOTALL)
JINJA_OPEN = re.compile(r"\{[{%#]")
MUSTACHE_TAG = re.compile(r"\{\{\{\s*([^{}]*?)\s*\}\}\}|\{\{\s*([&#^/>!=]?)\s*(.*?)\s*\}\}", re.DOTALL)
PYTHON_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --- Mustache --------------------------------------------------------------------------------------------------------


def _lookup(values: Mapping[str, Any], name: str, text: str, index: int, where: str) -> Any:
    value: Any = values
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            detail = f"the variable '{name}' has no value."
            raise template_error(PromptUndefinedError, where, line_of(text, index), detail, name)
        value = value[part]
    return "" if value is None else value


def _html_escape(text: str) -> str:
    # Mustache's `{{name}}` escapes these four (as the Azure SDK's renderer does); `{{{name}}}` and `{{&name}}` do not.
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def mustache_tags(text: str, where: str) -> Iterator[tuple[re.Match[str], str | None, bool]]:
    """Each tag with its variable name (None for a comment) and whether it is escaped; sections are an error."""
    for match in MUSTACHE_TAG.finditer(text):
        if match.group(1) is not None:
            yield match, match.group(1), False
            continue
        sigil, name = match.group(2), match.group(3)
        if sigil == "!":
            yield match, None, False
        elif sigil in ("", "&"):
            yield match, name, sigil == ""
        else:
            detail = (
                f"Mustache '{{{{{sigil}' tags (sections, partials, delimiters) are not supported; use variables, "
                "or declare `template: jinja2`."
            )
            raise template_error(PromptTemplateError, where, line_of(text, match.start()), detail)


def render_mustache(text: str, values: Mapping[str, Any], where: str) -> str:
    parts: list[str] = []
    position = 0
    for match, name, escaped in mustache_tags(text, where):
        parts.append(text[position : match.start()])
        position = match.end()
        if name is not None:
            value = str(_lookup(values, name, text, match.start(), where))
            parts.append(_html_escape(value) if escaped else value)
    parts.append(text[position:])
    return "".join(parts)


# --- GitHub placeholders -------------------------------------------------------------------------------------------


def render_placeholders(text: str, values: Mapping[str, Any], where: str) -> str:
    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            detail = f"the variable '{name}' has no value."
            raise template_error(PromptUndefinedError, where, line_of(text, match.start()), detail, name)
        value = values[name]
        if isinstance(value, bool):  # as Go's %v prints it
            return "true" if value else "false"
        return "" if value is None else str(value)

    return PLACEHOLDER.sub(value_of, text)


# --- translation ---------------------------------------------------------------------------------------------------


def needs_jinja(text: str) -> bool:
    """True when a Jinja2 template uses more than `{{ name }}` substitutions (statements, filters, comments, raw)."""
    return bool(JINJA_OPEN.search(JINJA_NAME.sub("", text)))


def jinja_to_placeholders(text: str, where: str) -> str:
    """`{{ name }}` -> `{{name}}`; a `{% raw %}` block's text is kept literally; any other Jinja2 is an error."""
    out: list[str] = []
    position = 0
    for raw in JINJA_RAW.finditer(text):
        out.append(_plain_jinja(text[position : raw.start()], where))
        out.append(raw.group(1))
        position = raw.end()
    out.append(_plain_jinja(text[position:], where))
    return "".join(out)


def _plain_jinja(text: str, where: str) -> str:
    converted = JINJA_NAME.sub(lambda m: "\0" + m.group(1) + "\1", text)
    leftover = JINJA_OPEN.search(converted)
    if leftover:
        line = line_of(text, leftover.start())
        snippet = converted[leftover.start() : leftover.start() + 20].split("\n")[0]
        raise PromptConvertError(
            f"{where}, line {line}: '{snippet}' is Jinja2 logic; a .prompt.yml only substitutes {{{{variable}}}} "
            "placeholders."
        )
    return converted.replace("\0", "{{").replace("\1", "}}")


def placeholders_to_jinja(text: str, where: str) -> str:
    """`{{name}}` stays; literal text that Jinja2 would read as syntax is wrapped in `{% raw %}`."""
    out: list[str] = []
    position = 0
    for match in PLACEHOLDER.finditer(text):
        out.append(_literal_for_jinja(text[position : match.start()], where, before_placeholder=True))
        name = match.group(1)
        if not PYTHON_NAME.match(name):
            raise PromptConvertError(f"{where}: the variable name '{name}' is not a Jinja2 name (letters, digits, _).")
        out.append("{{" + name + "}}")
        position = match.end()
    out.append(_literal_for_jinja(text[position:], where, before_placeholder=False))
    return "".join(out)


def _literal_for_jinja(text: str, where: str, *, before_placeholder: bool) -> str:
    if not (JINJA_OPEN.search(text) or (before_placeholder and text.endswith("{"))):
        return text
    if "endraw" in text:
        raise PromptConvertError(f"{where}: the text contains 'endraw', which cannot be kept literally in Jinja2.")
    return "{% raw %}" + text + "{% endraw %}"


def mustache_to(text: str, syntax: TemplateSyntax, where: str) -> str:
    """A Mustache template's variables in Jinja2 (`{{ a.b }}`) or placeholder (`{{name}}`) form; comments dropped."""
    out: list[str] = []
    position = 0
    for match, name, _escaped in mustache_tags(text, where):
        literal = text[position : match.start()]
        out.append(_literal_for_jinja(literal, where, before_placeholder=True) if syntax == "jinja2" else literal)
        position = match.end()
        if name is None:
            continue
        if syntax == "placeholders":
            if not PLACEHOLDER.fullmatch("{{" + name + "}}") or "." in name:
                raise PromptConvertError(f"{where}: '{name}' cannot be a .prompt.yml placeholder.")
            out.append("{{" + name + "}}")
        else:
            out.append("{{ " + name + " }}")
    tail = text[position:]
    out.append(_literal_for_jinja(tail, where, before_placeholder=False) if syntax == "jinja2" else tail)
    return "".join(out)
