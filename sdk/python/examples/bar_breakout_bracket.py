"""A bar strategy entering with a stoploss and a target.

Parameters: `instruments` (one "EXCHANGE:SYMBOL"), `intervals` (e.g. ["1min"]), `quantity`,
`stop_points` and `target_points` (Decimal distances from the entry). When a closed bar's close
is above the highest high of the `lookback` bars before it and the strategy is flat, it buys at
market with a stoploss `stop_points` below the close and a target `target_points` above it; the
engine places and links the two exits (one cancels the other).
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Deque

from algotrader_sdk import Bar, Event, Strategy, run


class BarBreakoutBracket(Strategy):
    def on_start(self) -> None:
        exchange, symbol = str(self.params["instruments"][0]).split(":", 1)
        self.symbol, self.exchange = symbol, exchange
        self.quantity = int(self.params.get("quantity", 1))
        self.lookback = int(self.params.get("lookback", 5))
        self.stop_points = Decimal(str(self.params.get("stop_points", "2")))
        self.target_points = Decimal(str(self.params.get("target_points", "4")))
        self.highs: Deque[Decimal] = deque(maxlen=self.lookback)

    def on_bar(self, bar: Bar) -> None:
        if (bar.symbol, bar.exchange) != (self.symbol, self.exchange):
            return
        flat = self.position(self.symbol, self.exchange) + self.open_quantity(self.symbol, self.exchange) == 0
        if len(self.highs) == self.lookback and bar.close > max(self.highs) and flat:
            self.buy(self.symbol, self.quantity, exchange=self.exchange,
                     stoploss=bar.close - self.stop_points, target=bar.close + self.target_points)
            self.log(f"breakout above {max(self.highs)} at {bar.close}")
        self.highs.append(bar.high)

    def on_order(self, order: Event) -> None:
        if order.status == "REJECTED":
            self.log(f"order {order.client_order_id} rejected: {order.reason}")


if __name__ == "__main__":
    run(BarBreakoutBracket)
