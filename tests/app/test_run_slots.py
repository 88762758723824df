"""Page runs share a few slots: at most that many compute at once, and a run waiting on the network gives its back."""

from __future__ import annotations

import threading
import time

from app import run_slots


def test_slot_count_comes_from_the_environment_or_leaves_a_cpu_to_the_server() -> None:
    assert run_slots.slot_count({"PLAYGROUND_SCRIPT_SLOTS": "3"}) == 3
    default = run_slots.slot_count({})
    assert default >= 1
    assert run_slots.slot_count({"PLAYGROUND_SCRIPT_SLOTS": "none"}) == default
    assert run_slots.slot_count({"PLAYGROUND_SCRIPT_SLOTS": "0"}) == default


def test_no_more_runs_compute_at_once_than_there_are_slots() -> None:
    slots = run_slots.slot_count()
    inside, most = 0, 0
    lock = threading.Lock()

    def page() -> None:
        nonlocal inside, most
        with run_slots.page_run():
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.05)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=page) for _ in range(slots + 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most == slots


def test_a_run_waiting_on_the_network_lets_the_others_in() -> None:
    slots = run_slots.slot_count()
    waiting = threading.Event()
    release = threading.Event()
    finished: list[int] = []

    def slow(index: int) -> None:
        with run_slots.page_run():
            with run_slots.released():
                waiting.set()
                release.wait(10)
            finished.append(index)

    def quick(index: int) -> None:
        with run_slots.page_run():
            finished.append(index)

    # Every slot is taken by a run that waits on "the network"; quick runs still get through.
    slow_threads = [threading.Thread(target=slow, args=(i,)) for i in range(slots)]
    for thread in slow_threads:
        thread.start()
    assert waiting.wait(5)
    quick_threads = [threading.Thread(target=quick, args=(100 + i,)) for i in range(3)]
    for thread in quick_threads:
        thread.start()
    for thread in quick_threads:
        thread.join(5)
    assert sorted(finished) == [100, 101, 102]
    release.set()
    for thread in slow_threads:
        thread.join(5)
    assert len(finished) == 3 + slots


def test_released_outside_a_page_run_is_a_no_op() -> None:
    with run_slots.released():
        pass
    with run_slots.page_run():
        pass
