"""The browser tests' run tracker reads Streamlit's own messages: a rerun chain is over only after a run that did not
end for a rerun, and a rerun the page asks for opens a new one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.fixtures.run_tracker import RunTracker


class _Socket:
    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[Any], None]] = {}

    def on(self, event: str, handler: Callable[[Any], None]) -> None:
        self.handlers[event] = handler


def _finished(status: int) -> bytes:
    message = ForwardMsg()
    message.script_finished = status  # type: ignore[assignment]
    return message.SerializeToString()


def _new_session() -> bytes:
    message = ForwardMsg()
    message.new_session.SetInParent()
    return message.SerializeToString()


def _rerun() -> bytes:
    message = BackMsg()
    message.rerun_script.SetInParent()
    return message.SerializeToString()


def test_a_chain_ends_only_with_a_run_that_did_not_stop_for_a_rerun() -> None:
    tracker, socket = RunTracker(), _Socket()
    tracker.watch(socket)
    receive, send = socket.handlers["framereceived"], socket.handlers["framesent"]
    assert not tracker.chain_over  # a new connection runs the script
    receive(_new_session())
    receive(_finished(ForwardMsg.FINISHED_EARLY_FOR_RERUN))  # st.rerun(): another run follows
    assert not tracker.chain_over
    receive(_new_session())
    receive(_finished(ForwardMsg.FINISHED_SUCCESSFULLY))
    assert tracker.chain_over
    send(_rerun())  # a click asks for a run before the server has started it
    assert not tracker.chain_over
    receive(_new_session())
    receive(_finished(ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY))
    assert tracker.chain_over
    receive("a text frame")  # neither kind of message: changes nothing
    receive(b"\xff\xff not protobuf")
    assert tracker.chain_over
