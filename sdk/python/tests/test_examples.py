"""The examples through the scripted engine: sma_crossover and bar_sma_crossover against an
independent computation of the crossover, bar_breakout_bracket's entry with its stoploss and
target."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction
from typing import Any, Dict, List, Tuple

import pytest

from algotrader_sdk import Bar, Tick

from conftest import Harness, Received, ScriptedEngine, bar, fill_market_order, load_example, tick

sma_crossover = load_example("sma_crossover")
bar_breakout_bracket = load_example("bar_breakout_bracket")
bar_sma_crossover = load_example("bar_sma_crossover")


def price_path(count: int, seed: int) -> List[str]:
    """A random walk in 0.05 steps, as the 4-decimal text the engine writes."""
    rng = random.Random(seed)
    units = 2_450_0000
    out = []
    for _ in range(count):
        units += rng.randrange(-4, 5) * 500
        out.append(f"{units // 10000}.{units % 10000:04d}")
    return out


def crossover_signals(prices: List[Decimal], fast: int, slow: int, quantity: int) -> List[Tuple[int, str, int]]:
    """The crossover computed apart from the example, in exact fractions: at tick i, with both
    windows full at i - 1 (so i >= slow), the fast mean crossing above the slow one while flat
    buys `quantity`; crossing below while long sells the whole position."""
    def mean(xs: List[Decimal]) -> Fraction:
        return sum((Fraction(x) for x in xs), Fraction(0)) / len(xs)

    out: List[Tuple[int, str, int]] = []
    position = 0
    for i in range(slow, len(prices)):
        f_now, s_now = mean(prices[i - fast + 1:i + 1]), mean(prices[i - slow + 1:i + 1])
        f_prev, s_prev = mean(prices[i - fast:i]), mean(prices[i - slow:i])
        if f_prev <= s_prev and f_now > s_now and position == 0:
            out.append((i, "BUY", quantity))
            position = quantity
        elif f_prev >= s_prev and f_now < s_now and position > 0:
            out.append((i, "SELL", position))
            position = 0
    return out


class Acknowledging(sma_crossover.SMACrossover):  # type: ignore[misc, name-defined]
    """The example unchanged, plus a `log` after each tick so the script knows it has been
    handled (and which orders it caused) before sending the next."""

    def on_tick(self, tick: Tick) -> None:
        super().on_tick(tick)
        self.log("handled")


def drive_sma(harness: Harness, prices: List[str], parameters: Dict[str, Any], late: bool = False) -> List[Tuple[int, Received]]:
    """Sends the ticks one at a time, each once the last was handled, and fills each MARKET order
    at its tick's price: at once, or (`late`) only after the next tick was handled, so the
    strategy meets that tick with the order still working (its open_quantity)."""
    orders: List[Tuple[int, Received]] = []

    def script(engine: ScriptedEngine) -> None:
        hello = engine.expect("hello")
        who = hello.identity
        engine.welcome(who, parameters=parameters, instruments=parameters["instruments"])
        position = 0
        due: List[Tuple[Received, str, int]] = []  # orders to fill after this tick (late)
        for i, price in enumerate(prices):
            if i % 7 == 3:  # another instrument's tick is not this strategy's
                engine.send(who, "tick", tick("INFY", "1"))
                assert engine.expect("log").body == {"message": "handled"}
            engine.send(who, "tick", tick("RELIANCE", price))
            new: List[Tuple[Received, str, int]] = []
            while True:
                message = engine.recv()
                if message.topic == "log":
                    assert message.body == {"message": "handled"}
                    break
                assert message.topic == "order.new", message.raw
                orders.append((i, message))
                b = message.body
                position += b["quantity"] if b["transaction_type"] == "BUY" else -b["quantity"]
                new.append((message, price, position))
            for order, at, held in (due if late else new):
                fill_market_order(engine, who, order, at, held)
            due = new
        engine.send(who, "stop", "{}")

    assert harness.run(Acknowledging(), script, limit=30) == 0
    return orders


@pytest.mark.parametrize("late", [False, True], ids=["filled-at-once", "filled-a-tick-later"])
def test_sma_crossover_sends_exactly_the_orders_of_the_crossover(harness: Harness, late: bool) -> None:
    prices = price_path(400, seed=18)
    fast, slow, quantity = 3, 8, 10
    expected = crossover_signals([Decimal(p) for p in prices], fast, slow, quantity)
    assert len(expected) >= 6, "the path should cross a few times"
    assert {side for _, side, _ in expected} == {"BUY", "SELL"}

    orders = drive_sma(harness, prices, {"instruments": ["NSE:RELIANCE"], "fast": fast, "slow": slow, "quantity": quantity},
                       late=late)

    assert [(i, m.body["transaction_type"], m.body["quantity"]) for i, m in orders] == expected
    ids = set()
    for _, m in orders:
        b = dict(m.body)
        ids.add(b.pop("client_order_id"))
        assert b == {"symbol": "RELIANCE", "exchange": "NSE", "transaction_type": b["transaction_type"],
                     "quantity": b["quantity"], "order_type": "MARKET", "product": "MIS"}
    assert len(ids) == len(orders)


def test_sma_crossover_on_a_flat_then_trending_path(harness: Harness) -> None:
    # Equal means (a flat start) then a rise and a fall: a cross from equality counts.
    prices = ["100"] * 10 + [str(100 + i) for i in range(1, 8)] + [str(107 - i) for i in range(1, 12)]
    expected = crossover_signals([Decimal(p) for p in prices], 2, 5, 3)
    assert [s for _, s, _ in expected] == ["BUY", "SELL"]
    orders = drive_sma(harness, prices, {"instruments": ["NSE:RELIANCE"], "fast": 2, "slow": 5, "quantity": 3})
    assert [(i, m.body["transaction_type"], m.body["quantity"]) for i, m in orders] == expected


class BarAcknowledging(bar_breakout_bracket.BarBreakoutBracket):  # type: ignore[misc, name-defined]
    def on_bar(self, bar: Bar) -> None:
        super().on_bar(bar)
        self.log("handled")


def test_bar_breakout_sends_a_bracket_on_a_breakout(harness: Harness) -> None:
    bars = [  # (open, high, low, close)
        ("100", "101", "99.5", "100.5"),
        ("100.5", "101.25", "100", "101"),
        ("101", "101.1", "100.2", "100.8"),
        ("100.8", "101.3", "100.7", "101.2"),  # lookback full from here: close 101.2 < 101.25
        ("101.2", "102", "101", "101.75"),  # breakout: 101.75 > 101.3
        ("101.75", "103", "101.7", "102.9"),  # a breakout again, but no longer flat
    ]
    params = {"instruments": ["NSE:INFY"], "intervals": ["1min"], "quantity": 5, "lookback": 3,
              "stop_points": "1.5", "target_points": "2.25"}
    sent: List[Tuple[int, Received]] = []

    def script(engine: ScriptedEngine) -> None:
        hello = engine.expect("hello")
        who = hello.identity
        engine.welcome(who, parameters=params, instruments=["NSE:INFY"])
        for i, (o, h, low, c) in enumerate(bars):
            engine.send(who, "bar", bar("INFY", o, h, low, c))
            engine.send(who, "bar", bar("TCS", o, h, low, "999"))  # another instrument: ignored
            for _ in range(2):
                while True:
                    message = engine.recv()
                    if message.topic == "log" and message.body["message"] == "handled":
                        break
                    sent.append((i, message))
                    if message.topic == "order.new":
                        fill_market_order(engine, who, message, c, message.body["quantity"])
        engine.send(who, "stop", "{}")

    assert harness.run(BarAcknowledging(), script) == 0
    orders = [(i, m) for i, m in sent if m.topic == "order.new"]
    assert len(orders) == 1
    i, order = orders[0]
    assert i == 4
    b = dict(order.body)
    b.pop("client_order_id")
    assert b == {"symbol": "INFY", "exchange": "NSE", "transaction_type": "BUY", "quantity": 5, "order_type": "MARKET",
                 "stoploss": Decimal("100.25"), "target": Decimal("104.00"), "product": "MIS"}
    assert b'"stoploss":100.25' in order.raw and b'"target":104.00' in order.raw  # exact numbers, no float
    logs = [m.body["message"] for _, m in sent if m.topic == "log"]
    assert logs == ["breakout above 101.3 at 101.75"]


class BarSMAAcknowledging(bar_sma_crossover.BarSMACrossover):  # type: ignore[misc, name-defined]
    def on_bar(self, bar: Bar) -> None:
        super().on_bar(bar)
        self.log("handled")


def test_bar_sma_crossover_trades_each_instrument_on_its_own_closes(harness: Harness) -> None:
    closes = {"INFY": price_path(120, seed=3), "TCS": price_path(120, seed=4)}
    fast, slow, quantity = 3, 7, 4
    expected = {s: crossover_signals([Decimal(p) for p in c], fast, slow, quantity) for s, c in closes.items()}
    assert all(len(e) >= 4 for e in expected.values()), "each path crosses a few times"
    instruments = ["NSE:INFY", "NSE:TCS"]
    params: Dict[str, Any] = {"instruments": instruments, "intervals": ["1min"], "fast": fast, "slow": slow, "quantity": quantity}
    sent: Dict[str, List[Tuple[int, str, int]]] = {"INFY": [], "TCS": []}

    def script(engine: ScriptedEngine) -> None:
        hello = engine.expect("hello")
        who = hello.identity
        engine.welcome(who, parameters=params, instruments=instruments)
        held = {"INFY": 0, "TCS": 0}
        for i in range(120):
            for symbol in ("INFY", "TCS"):
                c = closes[symbol][i]
                engine.send(who, "bar", bar(symbol, c, c, c, c))
                while True:
                    message = engine.recv()
                    if message.topic == "log" and message.body["message"] == "handled":
                        break
                    assert message.topic == "order.new", message.raw
                    b = message.body
                    assert b["symbol"] == symbol and b["order_type"] == "MARKET"
                    sent[symbol].append((i, b["transaction_type"], b["quantity"]))
                    held[symbol] += b["quantity"] if b["transaction_type"] == "BUY" else -b["quantity"]
                    fill_market_order(engine, who, message, c, held[symbol])
        engine.send(who, "stop", "{}")

    assert harness.run(BarSMAAcknowledging(), script, limit=30) == 0
    assert sent == expected
