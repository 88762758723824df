"""Small validators shared by the request parsers: each raises a 422 naming the field."""

from __future__ import annotations

import math
from typing import Any

from local_endpoint.errors import FieldProblem, UnprocessableError, invalid_input

EXTRA_PARAMETER_MODES = ("error", "drop", "pass-through")


def number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    """A float in [low, high], or None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_input((name,), value, "Input should be a valid number", "float_type")
    if isinstance(value, float) and not math.isfinite(value):
        raise invalid_input((name,), str(value), "Input should be a finite number", "finite_number")
    if value < low:
        raise invalid_input((name,), value, f"Input should be greater than or equal to {low}", "greater_than_equal")
    if value > high:
        raise invalid_input((name,), value, f"Input should be less than or equal to {high}", "less_than_equal")
    return float(value)


def integer(body: dict[str, Any], name: str, low: int | None = None) -> int | None:
    """An int (at least `low`), or None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_input((name,), value, "Input should be a valid integer", "int_type")
    if low is not None and value < low:
        raise invalid_input((name,), value, f"Input should be greater than or equal to {low}", "greater_than_equal")
    return value


def reject_extras(body: dict[str, Any], known: set[str], mode: str, passable: set[str] | None = None) -> dict[str, Any]:
    """Apply the `extra-parameters` rule to keys outside `known`; return the extras to pass to the model.

    `error` rejects every extra, `drop` removes them, `pass-through` keeps those in `passable` and rejects the rest.
    """
    extras = {k: v for k, v in body.items() if k not in known}
    if not extras or mode == "drop":
        return {}
    if mode == "error":
        problems = [
            FieldProblem(
                (k,),
                v,
                f"Extra parameter '{k}' is not allowed when extra-parameters is not set or set to be 'error'",
                "extra_forbidden",
            )
            for k, v in extras.items()
        ]
        raise UnprocessableError("parameter_not_supported", problems)
    unknown = [k for k in extras if k not in (passable or set())]
    if unknown:
        problems = [
            FieldProblem(
                (k,), extras[k], f"Parameter '{k}' was passed through but the model does not know it", "not_supported"
            )
            for k in unknown
        ]
        raise UnprocessableError("parameter_not_supported", problems)
    return extras
