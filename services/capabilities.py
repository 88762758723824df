"""What a deployment supports, merging the probe's answers with the 422s the pages have seen."""

from __future__ import annotations

from collections.abc import Mapping

from services.probe import CAPABILITIES, CapabilityResult, ProbeReport, Status

# The key a json_schema refusal gets when JSON mode still works, so the whole response_format control stays usable.
JSON_SCHEMA_PARAM = "response_format.json_schema"


def unsupported_params(report: ProbeReport) -> dict[str, str]:
    """The request parameters the probe found unsupported, param -> reason: the shape app.state keeps for 422s."""
    found: dict[str, str] = {}
    json_object_ok = report.status("json_object") is Status.SUPPORTED
    for capability in CAPABILITIES:
        result = report.results.get(capability.key)
        # Parameters of a deployment without chat were never asked about: the chat page has nothing to mark.
        if result is None or not result.probed or result.status is not Status.NOT_SUPPORTED or not capability.param:
            continue
        if capability.key == "json_schema" and json_object_ok:
            found[JSON_SCHEMA_PARAM] = result.detail
            continue
        found.setdefault(result.param or capability.param, result.detail)
    return found


def merge_seen(report: ProbeReport | None, seen: Mapping[str, str]) -> dict[str, CapabilityResult]:
    """Every capability's result, where a 422 seen for its parameter overrides a probe that found it fine or unknown.

    `seen` is param -> reason (app.state.unsupported_params). Without a report, capabilities no 422 speaks about are
    unknown.
    """
    merged: dict[str, CapabilityResult] = {}
    for capability in CAPABILITIES:
        probed = report.results.get(capability.key) if report else None
        reason = _seen_reason(capability.key, capability.param, seen)
        if reason is not None and (probed is None or probed.status is not Status.NOT_SUPPORTED):
            merged[capability.key] = CapabilityResult(
                capability.key, Status.NOT_SUPPORTED, f"seen in a request: {reason}", None, capability.param
            )
        elif probed is not None:
            merged[capability.key] = probed
        else:
            merged[capability.key] = CapabilityResult(capability.key, Status.UNKNOWN, "not probed yet")
    return merged


def _seen_reason(key: str, param: str | None, seen: Mapping[str, str]) -> str | None:
    if param is None:
        return None
    if key == "json_schema" and JSON_SCHEMA_PARAM in seen:
        return seen[JSON_SCHEMA_PARAM]
    return seen.get(param)
