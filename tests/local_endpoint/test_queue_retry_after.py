"""The Retry-After of a full queue estimates when the queue will have drained, from how long requests really take."""

from __future__ import annotations

import asyncio

import pytest

from local_endpoint.errors import QueueFull
from local_endpoint.slots import ModelSlot, Turn

QUEUE = 20


async def _refusal_while_full(slot: ModelSlot[object], hold_s: float) -> QueueFull:
    """Hold the model for `hold_s`, fill the queue, and return the refusal of one request more."""
    running = await slot.take_turn()
    waiters = [asyncio.ensure_future(slot.take_turn()) for _ in range(QUEUE)]
    await asyncio.sleep(hold_s)
    with pytest.raises(QueueFull) as caught:
        await slot.take_turn()
    running.release_unless_handed_over()
    for waiter in waiters:
        turn: Turn = await waiter
        turn.release_unless_handed_over()
    return caught.value


def test_retry_after_follows_the_measured_time_per_request_not_a_fixed_second() -> None:
    async def scenario() -> tuple[int, int]:
        slot: ModelSlot[object] = ModelSlot("m", object, max_queue=QUEUE)
        slot.start_loading()
        await slot.model()
        # Nothing has finished yet and the running request is quick: a short wait, not QUEUE+1 seconds.
        first = await _refusal_while_full(slot, 0.0)
        # Now every request seems to take about 0.3 s: the queue needs about 0.3 * (QUEUE + 1) seconds.
        slow = await _refusal_while_full(slot, 0.3)
        slot.cancel_pending()
        return first.retry_after_s, slow.retry_after_s

    quick, measured = asyncio.run(scenario())
    assert quick <= 2
    assert 3 <= measured <= 3 * (QUEUE + 1)
