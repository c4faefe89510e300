#!/usr/bin/env python3
"""A strategy on the SDK for the end-to-end tests through a broker gateway (Kite, Angel One). Modes (the first
argument); OUT gets {"ids": {name: client_order_id}, "events": [[name, status], ...]} after each
event (written whole, atomically):
  types    on the first tick: BUY 5 MARKET ("market"), BUY 2 LIMIT 50 below ("limit"), SELL 1 SL
           trigger 60 below, price 61 below ("sl"), SELL 1 SL-M trigger 70 below ("slm"). When the
           LIMIT is OPEN it is modified to 3 at 40 below; when the SL-M is OPEN it is cancelled.
  working  on the first tick: two BUY LIMITs, 2 at 50 below ("a") and 3 at 60 below ("b"), left
           working.
A mode may name the product after a colon ("types:CNC"; MIS otherwise): ICICI Direct's Breeze takes
no MIS equity orders.
"""
import json
import os
import sys
from decimal import Decimal
from typing import Dict, List

from algotrader_sdk import Event, Strategy, Tick, run

MODE, _, PRODUCT = sys.argv[1].partition(":")
PRODUCT = PRODUCT or "MIS"
OUT = sys.argv[2]


def tick_price(value: Decimal) -> Decimal:
    """To NSE's tick size of 0.05."""
    return (value * 20).to_integral_value() / 20


class KiteOrders(Strategy):
    def on_start(self) -> None:
        self.ids: Dict[str, str] = {}
        self.events: List[List[str]] = []
        self.base = Decimal(0)
        self.modified = self.cancelled = False

    def on_tick(self, tick: Tick) -> None:
        if self.ids:
            return
        self.base = tick_price(tick.price)
        below = lambda points: self.base - Decimal(points)  # noqa: E731
        if MODE == "types":
            self.ids["market"] = self.buy("RELIANCE", 5, product=PRODUCT)
            self.ids["limit"] = self.buy("RELIANCE", 2, order_type="LIMIT", price=below(50), product=PRODUCT)
            self.ids["sl"] = self.sell("RELIANCE", 1, order_type="SL", trigger_price=below(60), price=below(61), product=PRODUCT)
            self.ids["slm"] = self.sell("RELIANCE", 1, order_type="SL-M", trigger_price=below(70), product=PRODUCT)
        else:
            self.ids["a"] = self.buy("RELIANCE", 2, order_type="LIMIT", price=below(50), product=PRODUCT)
            self.ids["b"] = self.buy("RELIANCE", 3, order_type="LIMIT", price=below(60), product=PRODUCT)
        self.write()

    def on_order(self, order: Event) -> None:
        name = self.name_of(order)
        if name is None:
            return
        self.events.append([name, order.status])
        if MODE == "types" and order.status == "OPEN":
            if name == "limit" and not self.modified:
                self.modified = True
                self.modify(self.ids["limit"], quantity=3, price=self.base - Decimal(40))
            if name == "slm" and not self.cancelled:
                self.cancelled = True
                self.cancel(self.ids["slm"])
        self.write()

    def on_fill(self, fill: Event) -> None:
        name = self.name_of(fill)
        if name is not None:
            self.events.append([name, "fill " + str(fill.fill_quantity)])
            self.write()

    def name_of(self, event: Event) -> "str | None":
        return next((n for n, cid in self.ids.items() if cid == event.client_order_id), None)

    def write(self) -> None:
        with open(OUT + ".tmp", "w") as f:
            json.dump({"ids": self.ids, "base": str(self.base), "events": self.events}, f)
        os.replace(OUT + ".tmp", OUT)


if __name__ == "__main__":
    run(KiteOrders, argv=sys.argv[3:])
