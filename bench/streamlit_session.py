"""A browser-less Streamlit session for load runs: `/_stcore/stream` spoken as the browser speaks it.

A real browser sends a `rerun_script` BackMsg with the page's name and the widgets' values and reads ForwardMsgs
until the script has finished; so does `StreamlitSession`. Widget ids come from the elements the server sends, by the
widget's key (`"chat_input"`, `"p_max_tokens_on"`), so a run can type into the chat box as a person would. Used by
bench/load_test.py (page loads) and bench/team_load.py (a chat message per simulated user).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

# The chat page's streaming answer ends with this cursor while tokens arrive (app/components/chat_pane.py).
CURSOR = "▌"


@dataclass
class ScriptRun:
    """One finished script run: seconds to its end, the first streamed token, widgets by key, markdown drawn."""

    seconds: float = 0.0
    first_token_s: float | None = None
    widgets: dict[str, tuple[str, str]] = field(default_factory=dict)
    markdown: list[str] = field(default_factory=list)
    query_string: str | None = None
    messages: int = 0
    bytes_received: int = 0
    exceptions: list[str] = field(default_factory=list)


class StreamlitSession:
    """One websocket session with a Streamlit app; `rerun` is a page load or a widget change."""

    def __init__(self, app_url: str) -> None:
        self.url = app_url.replace("http://", "ws://", 1) + "/_stcore/stream"
        self._socket: Any = None
        self._context: Any = None

    async def __aenter__(self) -> StreamlitSession:
        from websockets.asyncio.client import connect

        self._context = connect(self.url, subprotocols=["streamlit"], max_size=None)
        self._socket = await self._context.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._context.__aexit__(*exc)

    async def rerun(self, page: str, widgets: list[Any] | None = None, query_string: str = "") -> ScriptRun:
        """Run `page` with these WidgetState protos and read until the script has finished successfully."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ClientState_pb2 import ClientState
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        state = ClientState(query_string=query_string, page_name=page)
        state.widget_states.widgets.extend(widgets or [])
        back = BackMsg()
        back.rerun_script.CopyFrom(state)
        run = ScriptRun()
        started = time.perf_counter()
        await self._socket.send(back.SerializeToString())
        while True:
            data = await self._socket.recv()
            run.messages, run.bytes_received = run.messages + 1, run.bytes_received + len(data)
            msg = ForwardMsg()
            msg.ParseFromString(data)
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._note_element(msg.delta.new_element, run, started)
            elif kind == "page_info_changed":
                run.query_string = msg.page_info_changed.query_string
            elif kind == "page_not_found":
                raise RuntimeError(f"page not found: {page!r}")
            elif kind == "script_finished":
                if msg.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue  # st.rerun or a forward to another page: the next run follows on its own
                if msg.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                    status = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
                    raise RuntimeError(f"script ended with {status}")
                run.seconds = time.perf_counter() - started
                return run

    @staticmethod
    def _note_element(element: Any, run: ScriptRun, started: float) -> None:
        kind = element.WhichOneof("type")
        inner = getattr(element, kind)
        widget_id = getattr(inner, "id", "")
        if widget_id:
            # Keyed widget ids end with "-<key>"; the key is what the page's code names.
            run.widgets[widget_id.rsplit("-", 1)[-1]] = (kind, widget_id)
        if kind == "exception":
            run.exceptions.append(f"{inner.type}: {inner.message}")
        elif kind == "markdown":
            run.markdown.append(inner.body)
            if run.first_token_s is None and inner.body.endswith(CURSOR) and "…" not in inner.body:
                run.first_token_s = time.perf_counter() - started


def widget_value(widget_id: str, **value: Any) -> Any:
    """A WidgetState proto: `widget_value(id, bool_value=True)`, `int_value=16`, or `chat=...` for a chat input."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    chat = value.pop("chat", None)
    state = WidgetState(id=widget_id, **value)
    if chat is not None:
        state.chat_input_value.data = chat
    return state
