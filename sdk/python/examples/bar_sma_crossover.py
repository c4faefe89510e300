"""A moving-average crossover on closed bars, over several instruments at once.

Parameters (the strategy row's): `instruments` (one or more "EXCHANGE:SYMBOL"), `intervals`
(one, e.g. ["5min"]), `fast`, `slow`, `quantity`. For each instrument on its own, on each closed
bar of that interval: the simple moving averages of the last `fast` and `slow` closes, compared
exactly (Decimal sums, cross-multiplied), signal only on a bar where both windows were full on
the previous bar: fast crossing above slow while flat buys `quantity` at market; fast crossing
below slow while long sells the whole position. It never goes short. A market order sent on a
closed bar fills at the next price the engine sees: live, the next tick; in a replay on
imported bars, the next bar's open.

    python3 examples/bar_sma_crossover.py --strategy my-bars --token-file token
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Deque, Dict, Optional, Tuple

from algotrader_sdk import Bar, Strategy, run


class Averages:
    """The fast and slow windows of one instrument's closes, and the last comparison."""

    def __init__(self, fast: int, slow: int) -> None:
        self.fast: Deque[Decimal] = deque(maxlen=fast)
        self.slow: Deque[Decimal] = deque(maxlen=slow)
        self.previous: Optional[int] = None

    def add(self, close: Decimal) -> Optional[int]:
        """Adds a close; returns the comparison (-1, 0, 1) once both windows are full."""
        self.fast.append(close)
        self.slow.append(close)
        if len(self.slow) < (self.slow.maxlen or 0) or len(self.fast) < (self.fast.maxlen or 0):
            return None
        lhs = sum(self.fast, Decimal(0)) * len(self.slow)
        rhs = sum(self.slow, Decimal(0)) * len(self.fast)
        return -1 if lhs < rhs else (1 if lhs > rhs else 0)


class BarSMACrossover(Strategy):
    def on_start(self) -> None:
        self.quantity = int(self.params["quantity"])
        fast, slow = int(self.params["fast"]), int(self.params["slow"])
        intervals = self.params.get("intervals") or ["1min"]
        self.interval = str(intervals[0])
        self.averages: Dict[Tuple[str, str], Averages] = {}
        for item in self.params["instruments"]:
            exchange, symbol = str(item).split(":", 1)
            self.averages[(symbol, exchange)] = Averages(fast, slow)

    def on_bar(self, bar: Bar) -> None:
        averages = self.averages.get((bar.symbol, bar.exchange))
        if averages is None or bar.interval != self.interval:
            return
        now = averages.add(bar.close)
        previous, averages.previous = averages.previous, now
        if now is None or previous is None:
            return
        # What it holds and what its orders on the way will add.
        held = self.position(bar.symbol, bar.exchange) + self.open_quantity(bar.symbol, bar.exchange)
        if previous <= 0 and now > 0 and held == 0:
            self.buy(bar.symbol, self.quantity, exchange=bar.exchange)
        elif previous >= 0 and now < 0 and held > 0:
            self.sell(bar.symbol, held, exchange=bar.exchange)


if __name__ == "__main__":
    run(BarSMACrossover)
