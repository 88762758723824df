"""Render a prompt into the messages to send, and list the variables its templates use.

Jinja2 (Prompty's default) renders in the sandbox of services/prompt_sandbox.py (StrictUndefined, bounded output).
A `.prompty` body is rendered whole and then split at its `system:` / `user:` / `assistant:` lines, as the Prompty
runtime and the Azure AI Inference SDK do, so a `{% for %}` may emit several messages.

A `.prompt.yml` is NOT rendered with Jinja2: GitHub's `gh models` replaces each exact `{{name}}` with its value and
leaves every other brace alone (`{{ name }}` with spaces, `{% ... %}`), message by message. Rendering those files with
Jinja2 would send different text than `gh models run` does (and turn literal braces into template errors), so they get
the same plain substitution here; the one difference is that a `{{name}}` with no value is an error instead of being
sent as is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from services.prompt_model import MAX_FILE_BYTES, ROLES, Prompt, PromptMessage, PromptTemplateError, TemplateSyntax
from services.prompt_sandbox import jinja_variables, line_of, render_jinja, too_big
from services.prompt_syntax import PLACEHOLDER, mustache_tags, render_mustache, render_placeholders

# A role line as the Prompty parser and the Azure SDK read it: optional `#`, the role, a colon, then the line's end.
ROLE_LINE = re.compile(r"^[ \t]*#?[ \t]*(" + "|".join(ROLES) + r")[ \t]*:[ \t]*\r?\n", re.IGNORECASE | re.MULTILINE)


def variables_in(template: str, syntax: TemplateSyntax = "jinja2") -> list[str]:
    """The variables a template uses, in order of first use (for an editor's live list).

    Raises PromptTemplateError (with the line) when a Jinja2 template does not parse.
    """
    if syntax == "placeholders":
        return list(dict.fromkeys(PLACEHOLDER.findall(template)))
    if syntax == "mustache":
        names = (name for _, name, _ in mustache_tags(template, "template") if name and name != ".")
        return list(dict.fromkeys(name.split(".")[0] for name in names))
    return jinja_variables(template, "template")


def join_body(messages: list[PromptMessage]) -> tuple[str, list[int]]:
    """A `.prompty` body from message templates, and the body line where each message's content starts."""
    lines: list[str] = []
    starts: list[int] = []
    for message in messages:
        if lines:
            lines.append("")
        lines.append(f"{message.role}:")
        starts.append(len(lines) + 1)
        lines.extend(message.content.split("\n"))
    return "\n".join(lines) + "\n", starts


def split_roles(text: str) -> list[tuple[str, str, int]]:
    """(role, content, line of the content) for each `role:` section; text before the first is a system message."""
    sections: list[tuple[str, str, int]] = []
    matches = list(ROLE_LINE.finditer(text))
    head = text[: matches[0].start()] if matches else text
    if head.strip():
        sections.append(("system", head.strip(), line_of(text, len(head) - len(head.lstrip()))))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        raw = text[match.end() : end]
        content = raw.strip()
        start = match.end() + (len(raw) - len(raw.lstrip()))
        sections.append((match.group(1).lower(), content, line_of(text, start)))
    return sections


def _message_of_line(starts: list[int], line: int | None) -> int | None:
    """Which message a body line belongs to (its role line included)."""
    if line is None:
        return None
    found = None
    for index, start in enumerate(starts):
        if line >= start - 1:
            found = index
    return found


def _located(prompt: Prompt, exc: PromptTemplateError, starts: list[int]) -> PromptTemplateError:
    """The same error, told as "message 2 (user), line 3 (line 14 of the file)" instead of a body line."""
    index = _message_of_line(starts, exc.line)
    if index is None:
        return exc
    message = prompt.messages[index]
    local = exc.line - starts[index] + 1 if exc.line is not None else None
    where = f"message {index + 1} ({message.role})"
    if local is not None and local >= 1:
        where += f", line {local}"
        if message.source_line is not None:
            where += f" (line {message.source_line + local - 1} of the file)"
    located = type(exc)(f"{where}: {exc.detail}", line=local, variable=exc.variable, detail=exc.detail)
    located.message_index = index
    return located


def render_messages(prompt: Prompt, values: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    """The messages to send, [{"role", "content"}], from the prompt's templates and the variable values.

    Declared defaults fill variables not given. Raises PromptUndefinedError (naming the variable and where it is used),
    PromptTemplateError for other template errors, PromptTooLargeError past MAX_FILE_BYTES.
    """
    data = {name: v.default for name, v in prompt.variables.items() if v.default is not None}
    data.update(values or {})
    if prompt.syntax == "placeholders":
        rendered: list[dict[str, str]] = []
        total = 0
        for index, message in enumerate(prompt.messages):
            try:
                content = render_placeholders(message.content, data, f"message {index + 1} ({message.role})")
            except PromptTemplateError as exc:
                exc.message_index = index
                raise
            total += len(content)
            if total > MAX_FILE_BYTES:
                raise too_big("text")
            rendered.append({"role": message.role, "content": content})
        return rendered
    body, starts = join_body(prompt.messages)
    try:
        if prompt.syntax == "mustache":
            text = render_mustache(body, data, "template")
        else:
            text = render_jinja(body, data, "template")
    except PromptTemplateError as exc:
        raise _located(prompt, exc, starts) from exc
    return [{"role": role, "content": content} for role, content, _ in split_roles(text) if content]


def prompt_variables(prompt: Prompt) -> list[str]:
    """Variables the prompt's templates use (the whole body, so a loop variable set in one message counts)."""
    if prompt.syntax == "placeholders":
        return list(dict.fromkeys(name for m in prompt.messages for name in PLACEHOLDER.findall(m.content)))
    body, _ = join_body(prompt.messages)
    return variables_in(body, prompt.syntax)
