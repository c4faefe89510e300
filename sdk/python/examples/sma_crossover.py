"""The reference `sma_crossover` on the SDK: the same orders as the engine's built-in type.

Parameters (the strategy row's): `instruments` (one "EXCHANGE:SYMBOL"), `fast`, `slow`,
`quantity`. On each tick it updates the simple moving averages of the last `fast` and `slow`
prices, compared exactly (Decimal sums, cross-multiplied: no floating point), and signals only
on a tick where both windows were full on the previous tick: fast crossing above slow while
flat buys `quantity` at market; fast crossing below slow while long sells the whole position.
It never goes short.

    python3 examples/sma_crossover.py --strategy my-sma --token-file token
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Deque, Optional

from algotrader_sdk import Strategy, Tick, run


class Window:
    def __init__(self, size: int) -> None:
        self.size = size
        self.prices: Deque[Decimal] = deque()
        self.sum = Decimal(0)

    def add(self, price: Decimal) -> None:
        self.prices.append(price)
        self.sum += price
        if len(self.prices) > self.size:
            self.sum -= self.prices.popleft()

    @property
    def full(self) -> bool:
        return len(self.prices) == self.size


class SMACrossover(Strategy):
    def on_start(self) -> None:
        exchange, symbol = str(self.params["instruments"][0]).split(":", 1)
        self.symbol, self.exchange = symbol, exchange
        self.quantity = int(self.params["quantity"])
        self.fast, self.slow = Window(int(self.params["fast"])), Window(int(self.params["slow"]))
        self.previous: Optional[int] = None

    def comparison(self) -> int:
        lhs, rhs = self.fast.sum * self.slow.size, self.slow.sum * self.fast.size
        return -1 if lhs < rhs else (1 if lhs > rhs else 0)

    def on_tick(self, tick: Tick) -> None:
        if tick.symbol != self.symbol or tick.exchange != self.exchange:
            return
        self.fast.add(tick.price)
        self.slow.add(tick.price)
        if not (self.fast.full and self.slow.full):
            return
        now, previous = self.comparison(), self.previous
        self.previous = now
        if previous is None:
            return
        # What it holds and what its orders on the way will add: a second signal before a fill
        # arrives is not a second order.
        held = self.position(self.symbol, self.exchange) + self.open_quantity(self.symbol, self.exchange)
        if previous <= 0 and now > 0 and held == 0:
            self.buy(self.symbol, self.quantity, exchange=self.exchange)
        elif previous >= 0 and now < 0 and held > 0:
            self.sell(self.symbol, held, exchange=self.exchange)


if __name__ == "__main__":
    run(SMACrossover)
