"""The client-side rate limiter and the adapter worker's schedule, on a fake clock where time
matters."""
from __future__ import annotations

import threading
import time
from typing import Callable

import pytest

from algotrader_brokers.adapter import AdapterWorker
from algotrader_brokers.ratelimit import LimitExhausted, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_kites_placement_windows_are_kept_with_a_margin() -> None:
    clock = Clock()
    limiter = RateLimiter(((1.0, 10), (60.0, 200)), margin=0.1, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(12):
        limiter.acquire()
        starts.append(clock.now)
    assert starts[:10] == [0.0] * 10
    assert starts[10] == pytest.approx(1.1) and starts[11] == pytest.approx(1.1)
    # 200 a minute: the 201st waits for the first to leave the minute.
    for _ in range(188):
        limiter.acquire()
    assert clock.now < 60
    limiter.acquire()
    assert clock.now == pytest.approx(60.1)


def test_a_wait_longer_than_allowed_is_refused() -> None:
    clock = Clock()
    limiter = RateLimiter(((86400.0, 2),), clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.acquire()
    with pytest.raises(LimitExhausted):
        limiter.acquire(max_wait=61)
    assert clock.now == 0.0


def test_the_workers_tick_is_not_starved_by_a_busy_queue() -> None:
    ticks: list[float] = []
    handled: list[int] = []

    def handle(kind: str, message: dict[str, int]) -> None:
        handled.append(message["n"])
        time.sleep(0.01)

    worker = AdapterWorker("t", handle, lambda: ticks.append(time.monotonic()), tick_seconds=0.1)
    stop = threading.Event()

    def feed() -> None:
        n = 0
        while not stop.is_set():
            worker.put("x", {"n": n})
            n += 1
            time.sleep(0.005)

    feeder = threading.Thread(target=feed)
    feeder.start()
    time.sleep(0.6)
    stop.set()
    feeder.join()
    worker.stop()
    assert len(ticks) >= 3
    assert handled == sorted(handled)  # the calls kept their order around the ticks


class _Window:
    """A placement window the test opens: closed until ``open`` is set."""

    def __init__(self) -> None:
        self.open = threading.Event()

    def delay(self) -> float:
        return 0.0 if self.open.is_set() else 0.05


def _worker(window: _Window) -> tuple[AdapterWorker, list[tuple[str, str]]]:
    done: list[tuple[str, str]] = []
    lock = threading.Lock()

    def handle(kind: str, message: dict[str, str]) -> None:
        with lock:
            done.append((kind, message["order_id"]))

    return AdapterWorker("t", handle, lambda: None, tick_seconds=10, placement_delay=window.delay), done


def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_placements_held_by_the_rate_window_let_updates_and_cancels_go_ahead() -> None:
    # Seen at 76faf66: one queue in arrival order kept reports and cancels behind a burst.
    window = _Window()
    worker, done = _worker(window)
    worker.put("order.new", {"order_id": "a"})
    worker.put("order.new", {"order_id": "b"})
    worker.put("update", {"order_id": "x"})
    worker.put("order.cancel", {"order_id": "placed-earlier"})
    _until(lambda: len(done) == 2)
    assert done == [("update", "x"), ("order.cancel", "placed-earlier")]
    assert worker.queued_placements() == 2
    window.open.set()
    _until(lambda: len(done) == 4)
    worker.stop()
    assert done[2:] == [("order.new", "a"), ("order.new", "b")]  # placements keep their order


def test_a_cancel_withdraws_a_placement_still_waiting_and_a_modify_waits_behind_its_own() -> None:
    window = _Window()
    worker, done = _worker(window)
    for order_id in ("a", "b", "c"):
        worker.put("order.new", {"order_id": order_id})
    worker.put("order.new", {"order_id": "b"})  # a resend: the same placement
    worker.put("order.modify", {"order_id": "c"})
    worker.put("order.cancel", {"order_id": "b", "reason": "strategy halted"})
    _until(lambda: len(done) == 1)
    assert done == [("order.withdrawn", "b")]
    window.open.set()
    _until(lambda: len(done) == 4)
    worker.stop()
    assert done == [("order.withdrawn", "b"), ("order.new", "a"), ("order.new", "c"), ("order.modify", "c")]
    assert worker.idle()


def test_a_slow_tick_leaves_the_queued_calls_their_turn() -> None:
    # Failed before: a tick as slow as its interval was due again at once, so placements
    # queued behind it never went (the poll of Angel's order book takes its 1/s limit).
    window = _Window()
    window.open.set()
    done: list[str] = []
    ticks: list[float] = []

    def tick() -> None:
        ticks.append(time.monotonic())
        time.sleep(0.2)

    worker = AdapterWorker("t", lambda kind, message: done.append(message["order_id"]), tick, tick_seconds=0.2,
                           placement_delay=window.delay)
    time.sleep(0.25)  # the first tick is running
    for order_id in ("a", "b", "c"):
        worker.put("order.new", {"order_id": order_id})
    _until(lambda: len(done) == 3, seconds=3)
    worker.stop()
    assert done == ["a", "b", "c"] and len(ticks) >= 1
