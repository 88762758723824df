"""At most a few page runs compute at once, so Streamlit's server thread keeps answering (health checks, websockets).

Every session's script runs in its own thread, and they all share one interpreter lock. With twenty sessions
computing at once on two cores, the server thread waits its turn behind all of them: `/_stcore/health` then takes
seconds (measured: up to 5 s with 20 sessions; bench/load_test.py) and an orchestrator restarts a replica that is
merely busy. A page run holds one of `PLAYGROUND_SCRIPT_SLOTS` slots (default: one CPU fewer than the machine has,
at least 1, leaving a CPU to the server thread) while it runs Python, and gives it back while it waits on the network
or another thread, or computes in numeric libraries (`released()`), so a slow endpoint or a long projection never
holds up other sessions.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SLOTS_VARIABLE = "PLAYGROUND_SCRIPT_SLOTS"


def slot_count(environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    """Slots from PLAYGROUND_SCRIPT_SLOTS, else the CPU count less one (at least 1); a bad value falls back to that."""
    raw = environ.get(SLOTS_VARIABLE, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, (os.cpu_count() or 2) - 1)


_SLOTS = threading.BoundedSemaphore(slot_count())
_held = threading.local()


def _holding() -> bool:
    return bool(getattr(_held, "slot", False))


@contextmanager
def page_run() -> Iterator[None]:
    """Hold a slot for the whole page run (app/main.py); waits while every slot is taken."""
    _SLOTS.acquire()
    _held.slot = True
    try:
        yield
    finally:
        if _holding():
            _held.slot = False
            _SLOTS.release()


@contextmanager
def released() -> Iterator[None]:
    """Give the slot back while this thread waits (network, a worker thread); a no-op outside a page run."""
    if not _holding():
        yield
        return
    _held.slot = False
    _SLOTS.release()
    try:
        yield
    finally:
        _SLOTS.acquire()
        _held.slot = True
