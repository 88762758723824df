"""One generation (a chat or a text completion) seen from the event loop: the worker thread's events, the output
blocklist and cancelling."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any, Protocol

from local_endpoint.blocklist import Blocklist, BlocklistMatch
from local_endpoint.chat_model import ChatModel, GenerationJob, PromptTooLong
from local_endpoint.errors import ContractError
from local_endpoint.slots import ModelSlot, Turn


class GenerationRequest(Protocol):
    """What a run needs of a validated request (ChatRequest, CompletionRequest)."""

    sampling: dict[str, Any]

    @property
    def prompt_param(self) -> str:
        """The body field a prompt that does not fit is blamed on (`messages`, `prompt`)."""
        ...

    def tokens(self, model: ChatModel) -> list[int]:
        """The prompt's token ids; PromptTooLong when it does not fit the context window."""
        ...


class ChatRun:
    """Starts generation on the model's thread; `pieces()` yields text that passed the output blocklist."""

    def __init__(
        self, slot: ModelSlot[ChatModel], request: GenerationRequest, grammar: Any, blocklist: Blocklist
    ) -> None:
        self._slot = slot
        self._request = request
        self._grammar = grammar
        self._blocklist = blocklist
        self._cancel = threading.Event()
        self._events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.finish_reason: str | None = None
        self.filter_match: BlocklistMatch | None = None

    async def start(self, turn: Turn) -> None:
        """Begin generating; 400 when the prompt does not fit the context window."""
        loop = asyncio.get_running_loop()

        def post(kind: str, value: Any) -> None:
            loop.call_soon_threadsafe(self._events.put_nowait, (kind, value))

        def work(model: ChatModel) -> None:
            try:
                tokens = self._request.tokens(model)
            except PromptTooLong as exc:
                post("error", exc)
                return
            post("prompt", len(tokens))
            try:
                job = GenerationJob(tokens, self._request.sampling, self._grammar)
                post("done", model.generate(job, lambda text: post("text", text), self._cancel))
            except Exception as exc:
                post("error", exc)

        self._slot.run(turn, work)
        kind, value = await self._events.get()
        if kind == "error":
            raise ContractError(400, "context_length_exceeded", f"This model's maximum context is exceeded: {value}",
                                param=self._request.prompt_param)  # fmt: skip
        self.prompt_tokens = value

    def cancel(self) -> None:
        """Ask the worker to stop; it does so within one token."""
        self._cancel.set()

    async def pieces(self) -> AsyncIterator[str]:
        """Text as it is generated; a tail that could be the start of a blocked term waits for the next piece."""
        text = ""
        sent = 0
        try:
            while True:
                kind, value = await self._events.get()
                if kind == "text":
                    text += value
                    match = self._blocklist.find(text)
                    if match is not None:
                        self.filter_match = match
                        self.finish_reason = "content_filter"
                        self.cancel()
                        if match.start > sent:
                            yield text[sent : match.start]
                        return
                    safe = len(text) - self._blocklist.unfinished_tail(text)
                    if safe > sent:
                        yield text[sent:safe]
                        sent = safe
                elif kind == "done":
                    self.finish_reason = value.finish_reason
                    self.completion_tokens = value.completion_tokens
                    if len(text) > sent:
                        yield text[sent:]
                    return
                else:
                    raise ContractError(500, "generation_failed", f"The model failed while generating: {value}")
        finally:
            self.cancel()
