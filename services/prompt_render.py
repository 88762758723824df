"""Render prompt templates into the messages to send, list their variables, and translate between template syntaxes.

Jinja2 (Prompty's default) renders in an ImmutableSandboxedEnvironment with StrictUndefined: no attribute access to
Python internals, no mutation of the values passed in, an undefined variable is an error naming it and its line, and
the output (plus the obvious ways to blow it up before output: `'x' * n`, huge widths, `range`) is bounded by
MAX_FILE_BYTES. A `.prompty` body is rendered whole and then split at its `system:` / `user:` / `assistant:` lines, as
the Prompty runtime and the Azure AI Inference SDK do, so a `{% for %}` may emit several messages.

A `.prompt.yml` is NOT rendered with Jinja2: GitHub's `gh models` replaces each exact `{{name}}` with its value and
leaves every other brace alone (`{{ name }}` with spaces, `{% ... %}`), message by message. Rendering those files with
Jinja2 would send different text than `gh models run` does (and turn literal braces into template errors), so they get
the same plain substitution here; the one difference is that a `{{name}}` with no value is an error instead of being
sent as is.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from services.prompt_model import (
    MAX_FILE_BYTES,
    ROLES,
    Prompt,
    PromptConvertError,
    PromptMessage,
    PromptTemplateError,
    PromptTooLargeError,
    PromptUndefinedError,
    TemplateSyntax,
)

# A role line as the Prompty parser and the Azure SDK read it: optional `#`, the role, a colon, then the line's end.
ROLE_LINE = re.compile(r"^[ \t]*#?[ \t]*(" + "|".join(ROLES) + r")[ \t]*:[ \t]*\r?\n", re.IGNORECASE | re.MULTILINE)
# GitHub's placeholder: `{{` name `}}` with no spaces (gh replaces the literal text "{{" + key + "}}").
PLACEHOLDER = re.compile(r"\{\{([A-Za-z0-9_][A-Za-z0-9_.\-]*)\}\}")
JINJA_NAME = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
JINJA_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}(.*?)\{%-?\s*endraw\s*-?%\}", re.DOTALL)
JINJA_OPEN = re.compile(r"\{[{%#]")
MUSTACHE_TAG = re.compile(r"\{\{\{\s*([^{}]*?)\s*\}\}\}|\{\{\s*([&#^/>!=]?)\s*(.*?)\s*\}\}", re.DOTALL)
PYTHON_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BIG_WIDTH = re.compile(r"\d{7,}")  # a format width of a million characters or more
RANGE_BUDGET = 100_000  # numbers `range` may produce in one render, all loops together
MAX_EXPONENT = 4096


def _too_big(what: str) -> PromptTooLargeError:
    return PromptTooLargeError(f"The template would produce {what} over the {MAX_FILE_BYTES:,}-byte limit.")


def _check_args(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_FILE_BYTES:
            raise _too_big(f"a call with the number {value}")


def _bounded(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps jinja's pass_context / pass_environment marks
    def call(*args: Any, **kwargs: Any) -> Any:
        _check_args(args, kwargs)
        if function.__name__ == "do_format" and any(isinstance(a, str) and BIG_WIDTH.search(a) for a in args):
            raise _too_big("a formatted value")
        return function(*args, **kwargs)

    return call


class _PromptSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, plus limits on the operations that make huge values before any output."""

    intercepted_binops = frozenset({"*", "+", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(count, int) and len(seq) * count > MAX_FILE_BYTES:
                    raise _too_big("a repeated value")
        elif operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            if len(left) + len(right) > MAX_FILE_BYTES:
                raise _too_big("a joined value")
        elif operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise _too_big("a power")
        elif operator == "%" and isinstance(left, str) and BIG_WIDTH.search(left):
            raise _too_big("a formatted value")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_args(args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None and BIG_WIDTH.search(str(getattr(value, "__self__", ""))):
            raise _too_big("a formatted value")
        return wrapped


def _environment() -> _PromptSandbox:
    env = _PromptSandbox(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters = {name: _bounded(function) for name, function in env.filters.items()}
    # lipsum, cycler, joiner and namespace are left out: namespace is the one way to carry state from one loop
    # iteration to the next (doubling a string forty times), and the others are of no use in a prompt.
    env.globals = {"dict": dict}
    return env


ENV = _environment()
_BUILTINS = frozenset({"range", "dict", "loop", "self", "varargs", "kwargs", "caller"})


def _budgeted_range() -> Callable[..., range]:
    left = [RANGE_BUDGET]

    def bounded_range(*args: int) -> range:
        numbers = range(*args)
        left[0] -= len(numbers)
        if left[0] < 0:
            raise PromptTooLargeError(f"The template loops over more than {RANGE_BUDGET:,} numbers in one render.")
        return numbers

    return bounded_range


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _template_line(error: BaseException) -> int | None:
    """The template line of a render error: jinja2 rewrites the traceback so the template's frames carry its lines."""
    line = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _undefined_name(message: str) -> str | None:
    found = re.match(r"'([^']+)' is undefined", message)
    return found.group(1) if found else None


# --- Jinja2 ---------------------------------------------------------------------------------------------------------


def _error(
    kind: type[PromptTemplateError], where: str, line: int | None, detail: str, variable: str | None = None
) -> PromptTemplateError:
    at = f"line {line}: " if line else ""
    return kind(f"{where}: {at}{detail}", line=line, variable=variable, detail=detail)


def _compile(text: str, where: str) -> jinja2.Template:
    try:
        return ENV.from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        raise _error(PromptTemplateError, where, exc.lineno, exc.message or "syntax error") from exc


def _render_jinja(text: str, values: Mapping[str, Any], where: str) -> str:
    template = _compile(text, where)
    context = {**values, "range": _budgeted_range()}
    parts: list[str] = []
    size = 0
    try:
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise _too_big("text")
            parts.append(chunk)
    except jinja2.UndefinedError as exc:
        name = _undefined_name(exc.message or "")
        detail = f"the variable '{name}' has no value." if name else f"{exc.message}."
        raise _error(PromptUndefinedError, where, _template_line(exc), detail, name) from exc
    except jinja2.TemplateError as exc:
        raise _error(PromptTemplateError, where, _template_line(exc), exc.message or str(exc)) from exc
    except PromptTooLargeError:
        raise
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise _error(PromptTemplateError, where, _template_line(exc), f"{type(exc).__name__}: {exc}") from exc
    return "".join(parts)


def _jinja_variables(text: str, where: str) -> list[str]:
    try:
        tree = ENV.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise _error(PromptTemplateError, where, exc.lineno, exc.message or "syntax error") from exc
    names = meta.find_undeclared_variables(tree) - _BUILTINS

    def first_use(name: str) -> int:
        found = re.search(r"(?<![\w.])" + re.escape(name) + r"\b", text)
        return found.start() if found else len(text)

    return sorted(names, key=lambda name: (first_use(name), name))


# --- Mustache (the subset a prompt uses: variables, no sections) ----------------------------------------------------


def _lookup(values: Mapping[str, Any], name: str, text: str, index: int, where: str) -> Any:
    value: Any = values
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            detail = f"the variable '{name}' has no value."
            raise _error(PromptUndefinedError, where, _line_of(text, index), detail, name)
        value = value[part]
    return "" if value is None else value


def _html_escape(text: str) -> str:
    # Mustache's `{{name}}` escapes these four (as the Azure SDK's renderer does); `{{{name}}}` and `{{&name}}` do not.
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def _mustache_tags(text: str, where: str) -> Iterator[tuple[re.Match[str], str | None, bool]]:
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
            raise _error(PromptTemplateError, where, _line_of(text, match.start()), detail)


def _render_mustache(text: str, values: Mapping[str, Any], where: str) -> str:
    parts: list[str] = []
    position = 0
    for match, name, escaped in _mustache_tags(text, where):
        parts.append(text[position : match.start()])
        position = match.end()
        if name is not None:
            value = str(_lookup(values, name, text, match.start(), where))
            parts.append(_html_escape(value) if escaped else value)
    parts.append(text[position:])
    return "".join(parts)


# --- GitHub placeholders --------------------------------------------------------------------------------------------


def _render_placeholders(text: str, values: Mapping[str, Any], where: str) -> str:
    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            detail = f"the variable '{name}' has no value."
            raise _error(PromptUndefinedError, where, _line_of(text, match.start()), detail, name)
        value = values[name]
        if isinstance(value, bool):  # as Go's %v prints it
            return "true" if value else "false"
        return "" if value is None else str(value)

    return PLACEHOLDER.sub(value_of, text)


# --- public ---------------------------------------------------------------------------------------------------------


def variables_in(template: str, syntax: TemplateSyntax = "jinja2") -> list[str]:
    """The variables a template uses, in order of first use (for an editor's live list).

    Raises PromptTemplateError (with the line) when a Jinja2 template does not parse.
    """
    if syntax == "placeholders":
        return list(dict.fromkeys(PLACEHOLDER.findall(template)))
    if syntax == "mustache":
        names = (name for _, name, _ in _mustache_tags(template, "template") if name and name != ".")
        return list(dict.fromkeys(name.split(".")[0] for name in names))
    return _jinja_variables(template, "template")


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
        sections.append(("system", head.strip(), _line_of(text, len(head) - len(head.lstrip()))))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        raw = text[match.end() : end]
        content = raw.strip()
        start = match.end() + (len(raw) - len(raw.lstrip()))
        sections.append((match.group(1).lower(), content, _line_of(text, start)))
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
                content = _render_placeholders(message.content, data, f"message {index + 1} ({message.role})")
            except PromptTemplateError as exc:
                exc.message_index = index
                raise
            total += len(content)
            if total > MAX_FILE_BYTES:
                raise _too_big("text")
            rendered.append({"role": message.role, "content": content})
        return rendered
    body, starts = join_body(prompt.messages)
    try:
        if prompt.syntax == "mustache":
            text = _render_mustache(body, data, "template")
        else:
            text = _render_jinja(body, data, "template")
    except PromptTemplateError as exc:
        raise _located(prompt, exc, starts) from exc
    return [{"role": role, "content": content} for role, content, _ in split_roles(text) if content]


def prompt_variables(prompt: Prompt) -> list[str]:
    """Variables the prompt's templates use (the whole body, so a loop variable set in one message counts)."""
    if prompt.syntax == "placeholders":
        return list(dict.fromkeys(name for m in prompt.messages for name in PLACEHOLDER.findall(m.content)))
    body, _ = join_body(prompt.messages)
    return variables_in(body, prompt.syntax)


# --- syntax translation ---------------------------------------------------------------------------------------------


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
        line = _line_of(text, leftover.start())
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
    for match, name, _escaped in _mustache_tags(text, where):
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
