"""The client-side rate limiter and the adapter worker's schedule, on a fake clock where time
matters."""
from __future__ import annotations

import threading
import time

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
