"""Row 4c of `make bench`: a strategy on the Python SDK that times, on the live daemon, a tick's
way to its handler and its order's way back.

On every tick of its instrument it places a LIMIT BUY of 1 a percent below the tick (it does
not fill), and when that order's OPEN event arrives it cancels it. For each order it keeps three
figures, in nanoseconds of the wall clock this machine shares with the publisher:

- total: the OPEN event's receipt minus the tick's `ts` (its send time at the publisher);
- delivery: the handler's start minus the tick's `ts`;
- round trip: the OPEN event's receipt minus the order's sending.

On SIGTERM (`on_stop`) it writes them as a JSON list of [total, delivery, round_trip] to the file
given as its first argument; the rest of the arguments are the SDK's own.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from decimal import ROUND_FLOOR, Decimal
from typing import Dict, List, Tuple

from algotrader_sdk import Event, Strategy, Tick, run

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
TICK_SIZE = Decimal("0.05")


class LatencyProbe(Strategy):
    def __init__(self, output: str) -> None:
        super().__init__()
        self.output = output
        # client order id -> (the tick's ts, the handler's start, the order's sending)
        self.waiting: Dict[str, Tuple[int, int, int]] = {}
        self.samples: List[Tuple[int, int, int]] = []

    def on_tick(self, tick: Tick) -> None:
        started = time.time_ns()
        delta = tick.ts - EPOCH
        tick_ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
        below = (tick.price * Decimal("0.99") / TICK_SIZE).to_integral_value(rounding=ROUND_FLOOR) * TICK_SIZE
        client = self.buy(tick.symbol, 1, exchange=tick.exchange, order_type="LIMIT", price=below)
        self.waiting[client] = (tick_ns, started, time.time_ns())

    def on_order(self, order: Event) -> None:
        received = time.time_ns()
        client = order.client_order_id
        if order.status != "OPEN" or client is None or client not in self.waiting:
            return
        tick_ns, started, sent = self.waiting.pop(client)
        self.samples.append((received - tick_ns, started - tick_ns, received - sent))
        self.cancel(client)

    def on_stop(self) -> None:
        with open(self.output, "w", encoding="utf-8") as f:
            json.dump(self.samples, f)


if __name__ == "__main__":
    out = sys.argv[1]
    run(LatencyProbe, sys.argv[2:], make=lambda: LatencyProbe(out))
