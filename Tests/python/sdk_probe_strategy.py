#!/usr/bin/env python3
"""A strategy on the SDK for the process tests. Modes (the first argument):
  hold OUT    on the first tick buys 10 at market and places a BUY LIMIT 1 far below the market;
              once both are acknowledged (a fill, an OPEN), writes {"client_order_ids": [...]} to OUT
              and keeps running (the test kills it).
  report OUT  once welcomed, and again after each edit, writes {"position": the SDK's position of
              NSE:RELIANCE, "params": its parameters, "edits": how many edits it saw} to OUT and
              keeps running.
"""
import json
import sys
from decimal import Decimal

from algotrader_sdk import Event, Strategy, Tick, run

MODE, OUT = sys.argv[1], sys.argv[2]


def write(value: object) -> None:
    with open(OUT + ".tmp", "w") as f:
        json.dump(value, f)
    import os
    os.replace(OUT + ".tmp", OUT)


class Probe(Strategy):
    def on_start(self) -> None:
        self.sent: list = []
        self.seen: set = set()
        self.edits = 0
        if MODE == "report":
            self.report()

    def on_edit(self) -> None:
        self.edits += 1
        if MODE == "report":
            self.report()

    def report(self) -> None:
        write({"position": self.position("RELIANCE", "NSE"), "params": self.params, "edits": self.edits})

    def on_tick(self, tick: Tick) -> None:
        if MODE != "hold" or self.sent:
            return
        self.sent.append(self.buy("RELIANCE", 10))
        self.sent.append(self.buy("RELIANCE", 1, order_type="LIMIT", price=tick.price - Decimal(100)))

    def on_order(self, order: Event) -> None:
        self.note(order)

    def on_fill(self, fill: Event) -> None:
        self.note(fill)

    def note(self, event: Event) -> None:
        if event.client_order_id in self.sent and event.status in ("FILLED", "OPEN"):
            self.seen.add(event.client_order_id)
            if len(self.seen) == 2 and self.position("RELIANCE", "NSE") == 10:
                write({"client_order_ids": self.sent})


if __name__ == "__main__":
    run(Probe, argv=sys.argv[3:])
