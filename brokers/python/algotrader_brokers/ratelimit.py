"""Client-side rate limits: sliding windows a gateway waits on before each broker call, so it
stays inside the broker's published limits instead of learning them from HTTP 429s (which a
broker's RMS may punish by blocking the app for longer)."""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable


class LimitExhausted(Exception):
    """Waiting would take longer than the caller allows (a daily cap reached)."""


class RateLimiter:
    """At most ``count`` calls in any ``seconds`` for each ``(seconds, count)`` window.

    ``margin`` widens every window a little: the broker counts a request when it arrives, we
    when it leaves, and two requests' network delays differ, so a window measured here exactly
    could be a hair short at the broker's end.
    """

    def __init__(self, windows: tuple[tuple[float, int], ...], margin: float = 0.1,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.windows = tuple(sorted(windows))
        self.margin = margin
        self._clock, self._sleep = clock, sleep
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def delay(self) -> float:
        """How long the next call would have to wait now (0: it may go)."""
        with self._lock:
            return self._delay(self._clock())

    def _delay(self, now: float) -> float:
        longest = self.windows[-1][0] + self.margin
        while self._calls and now - self._calls[0] >= longest:
            self._calls.popleft()
        wait = 0.0
        calls = list(self._calls)
        for seconds, count in self.windows:
            span = seconds + self.margin
            inside = [t for t in calls if now - t < span]
            if len(inside) >= count:
                # The oldest call that must leave the window before one more fits.
                wait = max(wait, inside[len(inside) - count] + span - now)
        return wait

    def acquire(self, max_wait: float | None = None) -> float:
        """Waits until a call fits every window and counts it; returns the time waited.
        LimitExhausted when that would take longer than ``max_wait`` seconds."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                wait = self._delay(now)
                if wait <= 0:
                    self._calls.append(now)
                    return waited
            if max_wait is not None and waited + wait > max_wait:
                raise LimitExhausted(f"the next call would wait {wait:.0f} s")
            self._sleep(wait)
            waited += wait
