"""Server-sent-event decoding: tolerant of comment lines, `event:` / `id:` / `retry:` lines, CR, LF and CRLF."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    data: str
    event: str | None = None
    id: str | None = None


class SSEDecoder:
    """Incremental decoder: feed it bytes as they arrive, take whole events out."""

    __slots__ = ("_buffer", "_data", "_event", "_id", "_pending_cr")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode the complete lines in `chunk` (plus what was buffered); return the events they finish."""
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across two chunks
        self._pending_cr = False
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            self._pending_cr = buffer.endswith(b"\r")
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        events: list[ServerSentEvent] = []
        # `data:` lines and the blank lines ending events are nearly every line of a chat stream: handled inline
        # (no call, only the value decoded); any other line goes through `_line`, as does the logic they mirror.
        for raw in lines:
            if raw.startswith(b"data:"):
                self._data.append((raw[6:] if raw[5:6] == b" " else raw[5:]).decode("utf-8", errors="replace"))
            elif raw:
                self._line(raw.decode("utf-8", errors="replace"))
            elif self._data:
                events.append(ServerSentEvent("\n".join(self._data), self._event, self._id))
                self._data, self._event = [], None
            else:
                self._event = None
        return events

    def flush(self) -> list[ServerSentEvent]:
        """The last event when the stream ended without a final blank line."""
        events = []
        if self._buffer:
            event = self._line(self._buffer.decode("utf-8", errors="replace"))
            self._buffer = b""
            if event is not None:
                events.append(event)
        event = self._line("")
        if event is not None:
            events.append(event)
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            if not self._data:
                self._event = None
                return None
            event = ServerSentEvent("\n".join(self._data), self._event, self._id)
            self._data, self._event = [], None
            return event
        if line.startswith(":"):
            return None  # a comment (keep-alive)
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None  # `retry:` and unknown fields are ignored, as the SSE spec says


def iter_events(chunks: Iterator[bytes]) -> Iterator[ServerSentEvent]:
    """Events from an iterator of byte chunks."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.flush()
