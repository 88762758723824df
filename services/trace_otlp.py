"""Stored trace rows as OpenTelemetry spans, with the GenAI semantic conventions' names.

When the standard variables ask for it (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), the
trace writer hands each batch of stored rows to `exporter_from_env().export(rows)`: the rows become SDK spans with the
store's own trace and span ids and go out through the SDK's BatchSpanProcessor and OTLP/HTTP exporter, on the
processor's thread. An unreachable collector costs a warning in the log, nothing else. `otlp_json` gives the same
spans as an OTLP/JSON request for the Traces page's export.

Rows carry no secret (the store masks them); nothing here adds a header or a URL to a span.
"""

from __future__ import annotations

import atexit
import base64
import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes, http_attributes, server_attributes
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

log = logging.getLogger(__name__)

ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
DEFAULT_SERVICE_NAME = "model-playground"
SCOPE = InstrumentationScope("model-playground.tracing")
# How long process exit may wait for the last spans to reach the collector.
EXIT_TIMEOUT_S = 5.0
# An unreachable collector is reported once, then at most this often while it stays unreachable.
WARN_EVERY_S = 60.0

# gen_ai.provider.name (and the older gen_ai.system) for each api kind of services.config.Deployment.
PROVIDERS = {
    "azure-inference": "azure.ai.inference",
    "github": "azure.ai.inference",
    "azure-openai": "azure.ai.openai",
    "openai": "openai",
}
# Sent request parameters with a GenAI attribute of their own.
_PARAMS = {
    "temperature": gen_ai.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": gen_ai.GEN_AI_REQUEST_TOP_P,
    "top_k": gen_ai.GEN_AI_REQUEST_TOP_K,
    "max_tokens": gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
    "presence_penalty": gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "frequency_penalty": gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "seed": gen_ai.GEN_AI_REQUEST_SEED,
}
# A message's role -> the conventions' event for it (the azure-ai-inference SDK's tracing uses the same names).
_MESSAGE_EVENTS = {
    "system": "gen_ai.system.message",
    "developer": "gen_ai.system.message",
    "user": "gen_ai.user.message",
    "assistant": "gen_ai.assistant.message",
    "tool": "gen_ai.tool.message",
}
CHOICE_EVENT = "gen_ai.choice"
EVENT_CONTENT = "gen_ai.event.content"
_TRUE = frozenset({"1", "true", "yes", "on"})


# --- rows as spans ---------------------------------------------------------------------------------------------------


def _loads(text: Any) -> Any:
    if not isinstance(text, str) or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _server(host: str | None) -> dict[str, Any]:
    """server.address and server.port from the row's host (a URL's netloc), without any user info."""
    if not host:
        return {}
    try:
        parts = urlsplit(f"//{host}")
        address, port = parts.hostname, parts.port
    except ValueError:
        return {}
    found: dict[str, Any] = {}
    if address:
        found[server_attributes.SERVER_ADDRESS] = address
    if port is not None:
        found[server_attributes.SERVER_PORT] = port
    return found


def _param_value(value: Any) -> Any:
    """A parameter as an attribute value (bool, int, float or str); None when it is none of them."""
    if isinstance(value, bool | int | float | str):
        return value
    return None


def _attributes(row: Mapping[str, Any], request: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    provider = PROVIDERS.get(str(row.get("api")), "azure.ai.inference")
    attributes: dict[str, Any] = {
        gen_ai.GEN_AI_OPERATION_NAME: row.get("operation"),
        gen_ai.GEN_AI_PROVIDER_NAME: provider,
        gen_ai.GEN_AI_SYSTEM: provider,
        gen_ai.GEN_AI_REQUEST_MODEL: row.get("request_model"),
        gen_ai.GEN_AI_RESPONSE_MODEL: row.get("response_model"),
        gen_ai.GEN_AI_USAGE_INPUT_TOKENS: row.get("input_tokens"),
        gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: row.get("output_tokens"),
        gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: row.get("ttft_s"),
        http_attributes.HTTP_RESPONSE_STATUS_CODE: row.get("http_status"),
        **_server(row.get("host")),
    }
    params = request.get("params") if isinstance(request.get("params"), Mapping) else {}
    for name, attribute in _PARAMS.items():
        if name in params and attribute not in attributes:
            attributes[attribute] = _param_value(params[name])
    stop = params.get("stop")
    if isinstance(stop, str):
        attributes[gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, list) and stop:
        attributes[gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES] = [str(item) for item in stop]
    if isinstance(params.get("encoding_format"), str):
        attributes[gen_ai.GEN_AI_REQUEST_ENCODING_FORMATS] = [params["encoding_format"]]
    if row.get("finish_reason"):
        attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] = [str(row["finish_reason"])]
    if isinstance(answer.get("id"), str):
        attributes[gen_ai.GEN_AI_RESPONSE_ID] = answer["id"]
    if isinstance(answer.get("dimensions"), int) and answer["dimensions"] > 0:
        attributes[gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = answer["dimensions"]
    attempt = row.get("attempt")
    if isinstance(attempt, int) and attempt > 1:
        attributes[http_attributes.HTTP_REQUEST_RESEND_COUNT] = attempt - 1
    if row.get("status") in ("error", "retried"):
        attributes[error_attributes.ERROR_TYPE] = row.get("error_type") or (
            str(row["http_status"]) if row.get("http_status") else "_OTHER"
        )
    for name in ("deployment", "page", "action", "api", "attempt", "retry_wait_s", "status", "cost", "ttft_s"):
        attributes[f"playground.{name}"] = row.get(name)
    attributes["playground.request_id"] = row.get("request_id")
    # An attribute is never null in OTLP: unset ones are left out.
    return {key: value for key, value in attributes.items() if value is not None and value != ""}


def _message_events(row: Mapping[str, Any], request: Mapping[str, Any], answer: Mapping[str, Any]) -> list[Event]:
    """The messages sent and the answer received as the conventions' events; none when content recording was off
    (such rows carry "messages_count" and an answer without "content")."""
    provider = PROVIDERS.get(str(row.get("api")), "azure.ai.inference")
    events: list[Event] = []
    messages = request.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if not isinstance(message, Mapping):
                continue
            name = _MESSAGE_EVENTS.get(str(message.get("role")))
            if name is None:
                continue
            # The whole message as it was sent, role included, as the azure-ai-inference SDK records it.
            events.append(_event(name, provider, dict(message), row.get("start_ns")))
    prompt = request.get("prompt")
    if isinstance(prompt, str):
        # A text completion's prompt is what the user sent: recorded as a user message, the nearest convention.
        events.append(
            _event(_MESSAGE_EVENTS["user"], provider, {"role": "user", "content": prompt}, row.get("start_ns"))
        )
    if "content" in answer:
        message: dict[str, Any] = {"content": answer.get("content")}
        if answer.get("tool_calls"):
            message["tool_calls"] = answer["tool_calls"]
        choice = {"finish_reason": answer.get("finish_reason"), "index": 0, "message": message}
        events.append(_event(CHOICE_EVENT, provider, choice, row.get("end_ns")))
    return events


def _event(name: str, provider: str, content: Any, timestamp: Any) -> Event:
    attributes = {
        gen_ai.GEN_AI_SYSTEM: provider,
        gen_ai.GEN_AI_PROVIDER_NAME: provider,
        EVENT_CONTENT: json.dumps(content, ensure_ascii=False, default=str),
    }
    return Event(name, attributes, timestamp=timestamp if isinstance(timestamp, int) else None)


def to_span(row: Mapping[str, Any], resource: Resource) -> ReadableSpan:
    """One stored row as a finished CLIENT span with the row's own trace and span ids."""
    context = SpanContext(
        trace_id=int(row["trace_id"], 16),
        span_id=int(row["span_id"], 16),
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    if not context.is_valid:
        raise ValueError(f"not a valid trace/span id: {row['trace_id']}/{row['span_id']}")
    request = _loads(row.get("request"))
    answer = _loads(row.get("answer"))
    request = request if isinstance(request, Mapping) else {}
    answer = answer if isinstance(answer, Mapping) else {}
    model = row.get("request_model") or row.get("deployment")
    failed = row.get("status") in ("error", "retried")
    return ReadableSpan(
        name=f"{row.get('operation')} {model}" if model else str(row.get("operation")),
        context=context,
        resource=resource,
        attributes=_attributes(row, request, answer),
        events=_message_events(row, request, answer),
        kind=SpanKind.CLIENT,
        status=Status(StatusCode.ERROR, row.get("error") or row.get("error_type")) if failed else Status(),
        start_time=int(row["start_ns"]),
        end_time=int(row["end_ns"]),
        instrumentation_scope=SCOPE,
    )


def resource_from_env() -> Resource:
    """`Resource.create()` (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), named "model-playground" unless those say
    otherwise."""
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    return resource


def _spans(rows: Sequence[Mapping[str, Any]], resource: Resource) -> list[ReadableSpan]:
    spans = []
    for row in rows:
        try:
            spans.append(to_span(row, resource))
        except Exception as exc:  # one odd row must not hold back the others
            log.warning("span %s not exported: %s", row.get("span_id"), exc)
    return spans


# --- OTLP/JSON ---------------------------------------------------------------------------------------------------


_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _hex_ids(value: Any) -> None:
    """protobuf's JSON writes bytes as base64; OTLP/JSON wants trace and span ids as lowercase hex."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _ID_FIELDS and isinstance(item, str):
                value[key] = base64.b64decode(item).hex()
            else:
                _hex_ids(item)
    elif isinstance(value, list):
        for item in value:
            _hex_ids(item)


def otlp_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows' spans as one OTLP/JSON ExportTraceServiceRequest (what a collector's /v1/traces takes as JSON)."""
    request = encode_spans(_spans(rows, resource_from_env()))
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    _hex_ids(document)
    return json.dumps(document, ensure_ascii=False)


# --- the exporter ------------------------------------------------------------------------------------------------


def _safe_endpoint() -> str:
    """The configured endpoint for a log line: scheme, host and path only (a query string may hold a token)."""
    for name in reversed(ENDPOINT_ENVS):
        value = os.environ.get(name, "").strip()
        if value:
            try:
                parts = urlsplit(value)
                return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"
            except ValueError:
                return "an invalid endpoint"
    return ""


class _WarningExporter(SpanExporter):
    """The SDK's OTLP exporter, plus one warning in the playground's log when the collector cannot be reached (then at
    most one a minute while it stays so, and a line when it is back)."""

    def __init__(self, inner: SpanExporter, endpoint: str) -> None:
        self.inner = inner
        self.endpoint = endpoint
        self.failing = False
        self._warned_at = 0.0
        self.sent = 0
        self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception as exc:
            log.warning("OTLP export to %s failed: %s", self.endpoint, exc)
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.sent += len(spans)
            if self.failing:
                log.info("OTLP export to %s works again", self.endpoint)
            self.failing = False
            return result
        self.failed += len(spans)
        now = time.monotonic()
        if not self.failing or now - self._warned_at >= WARN_EVERY_S:
            log.warning(
                "OTLP export to %s failed: %d spans not sent (%d so far); they are still in the trace store",
                self.endpoint,
                len(spans),
                self.failed,
            )
            self._warned_at = now
        self.failing = True
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class OtlpExport:
    """Rows to spans, spans to a BatchSpanProcessor over the SDK's OTLP/HTTP exporter (configured by OTEL_*)."""

    def __init__(self) -> None:
        self.resource = resource_from_env()
        self.exporter = _WarningExporter(OTLPSpanExporter(), _safe_endpoint())
        self.processor = BatchSpanProcessor(self.exporter)
        self._closed = False

    def export(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Queue the rows' spans for the processor's thread; never raises, never waits on the network."""
        if self._closed:
            return
        try:
            for span in _spans(rows, self.resource):
                self.processor.on_end(span)
        except Exception as exc:
            log.warning("OTLP export skipped: %s", exc)

    def force_flush(self) -> bool:
        """Send what is queued now (blocking; the tests' way to wait for the receiver)."""
        return self.processor.force_flush()

    def shutdown(self, timeout: float = EXIT_TIMEOUT_S) -> bool:
        """Send what is queued and stop, waiting at most `timeout` seconds (a dead collector cannot hold exit up)."""
        if self._closed:
            return True
        self._closed = True
        worker = threading.Thread(target=self._shutdown, name="otlp-shutdown", daemon=True)
        worker.start()
        worker.join(timeout)
        return not worker.is_alive()

    def _shutdown(self) -> None:
        try:
            self.processor.shutdown()
        except Exception as exc:
            log.warning("OTLP exporter shutdown: %s", exc)


def _enabled(env: Mapping[str, str]) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return False
    if not any(env.get(name, "").strip() for name in ENDPOINT_ENVS):
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    return not exporters or "otlp" in {item.strip() for item in exporters.split(",")}


_current: tuple[tuple[tuple[str, str], ...], OtlpExport | None] | None = None
_lock = threading.Lock()


def exporter_from_env() -> OtlpExport | None:
    """The exporter for the current OTEL_* environment, or None when no OTLP endpoint is set (or the SDK is disabled).
    One per process; a changed environment (the tests change it) retires the previous one, which sends what it holds
    and stops."""
    global _current
    key = tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith("OTEL_")))
    found = _current
    if found is not None and found[0] == key:
        return found[1]
    with _lock:
        found = _current
        if found is not None and found[0] == key:
            return found[1]
        previous = found[1] if found is not None else None
        try:
            made = OtlpExport() if _enabled(os.environ) else None
        except Exception as exc:  # a malformed OTEL_* value: say so once for this environment, record as before
            log.warning("OTLP export is off: the OTEL_* settings could not be used: %s", exc)
            made = None
        _current = (key, made)
    if previous is not None:
        threading.Thread(target=previous.shutdown, name="otlp-retire", daemon=True).start()
    if made is not None:
        protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        if protocol and protocol.strip().lower() != "http/protobuf":
            log.warning("OTLP protocol %r is not supported here: traces are sent as http/protobuf", protocol)
    return made


@atexit.register
def _shutdown_at_exit() -> None:
    """Hand the writer's last rows over, then send them, within EXIT_TIMEOUT_S."""
    found = _current
    if found is None or found[1] is None:
        return
    try:
        from services import tracing

        tracing.flush(timeout=EXIT_TIMEOUT_S / 2)
    except Exception as exc:
        log.warning("trace flush at exit: %s", exc)
    found[1].shutdown(EXIT_TIMEOUT_S / 2)
