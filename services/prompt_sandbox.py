"""Jinja2 for prompt templates: Jinja2's ImmutableSandboxedEnvironment (no attribute access to Python internals, no
mutation of the values passed in) with StrictUndefined (an undefined variable is an error naming it and its line),
and the output bounded by MAX_FILE_BYTES, along with the obvious ways to build a huge value before any output
(`'x' * n`, `+`, `**`, huge widths and counts, `range`, `namespace` doubling)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from services.prompt_model import MAX_FILE_BYTES, PromptTemplateError, PromptTooLargeError, PromptUndefinedError

BIG_WIDTH = re.compile(r"\d{7,}")  # a format width of a million characters or more
RANGE_BUDGET = 100_000  # numbers `range` may produce in one render, all loops together
MAX_EXPONENT = 4096


def too_big(what: str) -> PromptTooLargeError:
    return PromptTooLargeError(f"The template would produce {what} over the {MAX_FILE_BYTES:,}-byte limit.")


def _check_args(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_FILE_BYTES:
            raise too_big(f"a call with the number {value}")


def _bounded(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps jinja's pass_context / pass_environment marks
    def call(*args: Any, **kwargs: Any) -> Any:
        _check_args(args, kwargs)
        if function.__name__ == "do_format" and any(isinstance(a, str) and BIG_WIDTH.search(a) for a in args):
            raise too_big("a formatted value")
        return function(*args, **kwargs)

    return call


class PromptSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, plus limits on the operations that make huge values before any output."""

    intercepted_binops = frozenset({"*", "+", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(count, int) and len(seq) * count > MAX_FILE_BYTES:
                    raise too_big("a repeated value")
        elif operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            if len(left) + len(right) > MAX_FILE_BYTES:
                raise too_big("a joined value")
        elif operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise too_big("a power")
        elif operator == "%" and isinstance(left, str) and BIG_WIDTH.search(left):
            raise too_big("a formatted value")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_args(args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None and BIG_WIDTH.search(str(getattr(value, "__self__", ""))):
            raise too_big("a formatted value")
        return wrapped


def _environment() -> PromptSandbox:
    env = PromptSandbox(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters = {name: _bounded(function) for name, function in env.filters.items()}
    # lipsum, cycler, joiner and namespace are left out: namespace is the one way to carry state from one loop
    # iteration to the next (doubling a string forty times), and the others are of no use in a prompt.
    env.globals = {"dict": dict}
    return env


ENV = _environment()
BUILTINS = frozenset({"range", "dict", "loop", "self", "varargs", "kwargs", "caller"})


def _budgeted_range() -> Callable[..., range]:
    left = [RANGE_BUDGET]

    def bounded_range(*args: int) -> range:
        numbers = range(*args)
        left[0] -= len(numbers)
        if left[0] < 0:
            raise PromptTooLargeError(f"The template loops over more than {RANGE_BUDGET:,} numbers in one render.")
        return numbers

    return bounded_range


def line_of(text: str, index: int) -> int:
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


def template_error(
    kind: type[PromptTemplateError], where: str, line: int | None, detail: str, variable: str | None = None
) -> PromptTemplateError:
    at = f"line {line}: " if line else ""
    return kind(f"{where}: {at}{detail}", line=line, variable=variable, detail=detail)


def _compile(text: str, where: str) -> jinja2.Template:
    try:
        return ENV.from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        raise template_error(PromptTemplateError, where, exc.lineno, exc.message or "syntax error") from exc


def render_jinja(text: str, values: Mapping[str, Any], where: str) -> str:
    template = _compile(text, where)
    context = {**values, "range": _budgeted_range()}
    parts: list[str] = []
    size = 0
    try:
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise too_big("text")
            parts.append(chunk)
    except jinja2.UndefinedError as exc:
        name = _undefined_name(exc.message or "")
        detail = f"the variable '{name}' has no value." if name else f"{exc.message}."
        raise template_error(PromptUndefinedError, where, _template_line(exc), detail, name) from exc
    except jinja2.TemplateError as exc:
        raise template_error(PromptTemplateError, where, _template_line(exc), exc.message or str(exc)) from exc
    except PromptTooLargeError:
        raise
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise template_error(PromptTemplateError, where, _template_line(exc), f"{type(exc).__name__}: {exc}") from exc
    return "".join(parts)


def jinja_variables(text: str, where: str) -> list[str]:
    try:
        tree = ENV.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise template_error(PromptTemplateError, where, exc.lineno, exc.message or "syntax error") from exc
    names = meta.find_undeclared_variables(tree) - BUILTINS

    def first_use(name: str) -> int:
        found = re.search(r"(?<![\w.])" + re.escape(name) + r"\b", text)
        return found.start() if found else len(text)

    return sorted(names, key=lambda name: (first_use(name), name))
