"""A stored span's error_detail turned back into the typed error, so its card is drawn as the user saw it."""

from __future__ import annotations

import inspect
import json
from typing import Any

from services import errors
from services.errors import InferenceError

# What each card reads besides the common fields, with the value to use when an older row lacks it.
_FIELD_DEFAULTS: dict[str, Any] = {
    "param": "",
    "value": None,
    "invalid_value": False,
    "categories": {},
    "retry_after": None,
    "host": "",
    "reason": "",
    "location": "",
    "key_source": "none",
    "route": "",
}
_COMMON = ("status", "code", "request_id")


def _error_class(name: object) -> type[InferenceError]:
    found = getattr(errors, str(name), None) if isinstance(name, str) else None
    # Only the error family itself: a stored name never picks an arbitrary class.
    return found if isinstance(found, type) and issubclass(found, InferenceError) else InferenceError


def loads(text: str | None) -> Any:
    """A stored JSON column as data (None when empty or not JSON)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def error_from_detail(detail: dict[str, Any] | None, deployment: str) -> InferenceError | None:
    """The error a span recorded, as an instance of its own class (the stored text is already masked)."""
    if not isinstance(detail, dict):
        return None
    cls = _error_class(detail.get("type"))
    # Not the constructor: the classes take their fields as required keywords, and the row holds them as data.
    err = cls.__new__(cls)
    text = detail.get("text") if detail.get("text") is not None else detail.get("message", "")
    err.message = " ".join(str(text).split())
    err.deployment = str(detail.get("deployment") or deployment)
    for name in _COMMON:
        setattr(err, name, detail.get(name))
    for name, default in _FIELD_DEFAULTS.items():
        if name in detail or _needs(cls, name):
            setattr(err, name, detail.get(name, default))
    err.args = (str(err),)
    return err


def _needs(cls: type[InferenceError], name: str) -> bool:
    """True when the class's constructor takes this field (so its card may read it)."""
    return name in inspect.signature(cls.__init__).parameters
