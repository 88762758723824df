"""Reads a chat stream in a worker thread, so the page keeps redrawing (and notices Stop) while no token arrives.

No streamlit here: the page polls `text` and `done`, and calls `stop()` when the user stops. The worker's calls run
in a CancelScope, so stop() shuts the connection down at once, also while the request waits for its first byte.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from services import tracing
from services.client import ChatStream
from services.schemas import ChatResult, Metrics
from services.transport import CancelScope


class StreamPump:
    """Runs `open_stream()` and iterates it in a daemon thread; everything it learns is readable from any thread."""

    def __init__(self, open_stream: Callable[[], ChatStream]) -> None:
        self._open_stream = open_stream
        self._stream: ChatStream | None = None
        self._stop = threading.Event()
        self._scope = CancelScope()
        self.done = threading.Event()
        self.error: Exception | None = None
        self.started = time.perf_counter()
        self._thread = threading.Thread(target=tracing.carry(self._run), name="chat-stream", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self._scope:
            try:
                self._stream = self._open_stream()
                for _delta in self._stream:
                    if self._stop.is_set():
                        break
            except Exception as err:
                # Handed to the page, which shows it as a card; after Stop a failure is the connection we cut.
                if not self._stop.is_set():
                    self.error = err
            finally:
                if self._stream is not None:
                    self._stream.close()
                self.done.set()

    @property
    def text(self) -> str:
        """Everything received so far."""
        return self._stream.text if self._stream is not None else ""

    @property
    def stopping(self) -> bool:
        """True once stop() was called."""
        return self._stop.is_set()

    def stop(self) -> None:
        """Stop now: the connection is shut down under the worker, which then ends with what arrived."""
        self._stop.set()
        self._scope.cancel()

    def wait(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for the stream to end; True when it has."""
        return self.done.wait(timeout_s)

    def result(self) -> ChatResult:
        """The answer assembled so far (empty while the request is still being opened); valid after an error too."""
        if self._stream is None:
            return ChatResult(metrics=Metrics(total_s=time.perf_counter() - self.started, request_id=""))
        return self._stream.result
