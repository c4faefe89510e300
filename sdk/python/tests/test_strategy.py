"""Strategy bookkeeping (position, open_quantity) and the requests its calls send, fed through
the Runner's own dispatch of decoded messages (no socket)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Dict, List, Optional, Tuple

import pytest

from algotrader_sdk import Runner, Strategy
from algotrader_sdk.messages import decode

from conftest import order_event


class FakeLink:
    def __init__(self) -> None:
        self.sent: List[Tuple[str, Dict[str, Any], bytes]] = []

    def send(self, topic: str, fields: Dict[str, Any]) -> None:
        from algotrader_sdk.messages import encode
        raw = encode(fields)
        self.sent.append((topic, json.loads(raw, parse_float=Decimal), raw))


class Desk:
    """A strategy wired to a fake link, fed the engine's messages as the Runner dispatches them."""

    def __init__(self, positions: Optional[List[Dict[str, Any]]] = None) -> None:
        self.strategy = Strategy()
        self.runner = Runner(self.strategy, "tcp://127.0.0.1:1", "s", "t")
        self.link = FakeLink()
        welcome = {"strategy_id": "sid", "name": "n", "parameters": {"k": 1}, "positions": positions or [],
                   "heartbeat_interval_ms": 1000, "heartbeat_timeout_ms": 5000}
        self.runner._welcome(None, welcome)  # type: ignore[arg-type]
        self.strategy._link = self.link  # type: ignore[assignment]

    def feed(self, topic: str, payload: str) -> bool:
        return self.runner._dispatch(topic, decode(payload.encode()))

    def order(self, cid: Optional[str], side: str, quantity: int, status: str, filled: int = 0, **kw: Any) -> None:
        self.feed("order", order_event(cid, side=side, quantity=quantity, status=status, filled=filled, **kw))

    def fill(self, cid: Optional[str], side: str, quantity: int, status: str, filled: int, fill_quantity: int, **kw: Any) -> None:
        self.feed("fill", order_event(cid, side=side, quantity=quantity, status=status, filled=filled,
                                      fill=(fill_quantity, "2450.05"), **kw))


# Positions ------------------------------------------------------------------------------------


def test_position_from_welcome_and_position_messages() -> None:
    d = Desk(positions=[{"symbol": "RELIANCE", "exchange": "NSE", "quantity": 15},
                        {"symbol": "RELIANCE", "exchange": "BSE", "quantity": -3}])
    s = d.strategy
    assert (s.strategy_id, s.name, s.params) == ("sid", "n", {"k": 1})
    assert s.position("RELIANCE") == 15  # NSE by default
    assert s.position("RELIANCE", "BSE") == -3
    assert s.position("INFY") == 0
    d.feed("position", '{"symbol":"RELIANCE","exchange":"NSE","quantity":-5}')
    assert s.position("RELIANCE", "NSE") == -5 and s.position("RELIANCE", "BSE") == -3
    d.feed("position", '{"symbol":"INFY","exchange":"NSE","quantity":2}')
    assert s.position("INFY") == 2


def test_a_new_welcome_replaces_the_positions() -> None:
    d = Desk(positions=[{"symbol": "RELIANCE", "exchange": "NSE", "quantity": 15}])
    d.runner._welcome(None, {"positions": [{"symbol": "INFY", "exchange": "NSE", "quantity": 1}]})  # type: ignore[arg-type]
    assert d.strategy.position("RELIANCE") == 0 and d.strategy.position("INFY") == 1


# open_quantity --------------------------------------------------------------------------------


def test_open_quantity_through_partial_fill_and_fill() -> None:
    d = Desk()
    s = d.strategy
    cid = s.buy("RELIANCE", 10)
    assert s.open_quantity("RELIANCE") == 10
    d.order(cid, "BUY", 10, "PENDING")
    d.order(cid, "BUY", 10, "OPEN")
    assert s.open_quantity("RELIANCE") == 10
    d.fill(cid, "BUY", 10, "PARTIALLY_FILLED", filled=4, fill_quantity=4)
    assert s.open_quantity("RELIANCE") == 6
    d.order(cid, "BUY", 10, "PARTIALLY_FILLED", filled=4)
    assert s.open_quantity("RELIANCE") == 6
    d.fill(cid, "BUY", 10, "FILLED", filled=10, fill_quantity=6)
    assert s.open_quantity("RELIANCE") == 0
    d.order(cid, "BUY", 10, "FILLED", filled=10)  # the FILLED order event after the fill
    assert s.open_quantity("RELIANCE") == 0


def test_open_quantity_of_sells_is_negative_and_per_instrument() -> None:
    d = Desk()
    s = d.strategy
    a = s.sell("RELIANCE", 7)
    b = s.buy("RELIANCE", 3)
    c = s.buy("RELIANCE", 2, exchange="BSE")
    s.buy("INFY", 9)
    assert s.open_quantity("RELIANCE") == -4
    assert s.open_quantity("RELIANCE", "BSE") == 2
    assert s.open_quantity("INFY") == 9
    d.fill(a, "SELL", 7, "PARTIALLY_FILLED", filled=5, fill_quantity=5)
    assert s.open_quantity("RELIANCE") == 1  # -2 + 3
    d.order(b, "BUY", 3, "CANCELLED")
    d.order(c, "BUY", 2, "REJECTED", reason="risk", exchange="BSE")
    assert s.open_quantity("RELIANCE") == -2 and s.open_quantity("RELIANCE", "BSE") == 0


def test_reject_and_cancel_end_an_order() -> None:
    d = Desk()
    s = d.strategy
    rejected = s.buy("RELIANCE", 10)
    d.order(rejected, "BUY", 10, "REJECTED", reason="halted")
    assert s.open_quantity("RELIANCE") == 0
    cancelled = s.buy("RELIANCE", 10)
    d.order(cancelled, "BUY", 10, "OPEN", order_type="LIMIT")
    d.fill(cancelled, "BUY", 10, "PARTIALLY_FILLED", filled=3, fill_quantity=3, order_type="LIMIT")
    assert s.open_quantity("RELIANCE") == 7
    d.order(cancelled, "BUY", 10, "CANCELLED", filled=3, order_type="LIMIT")
    assert s.open_quantity("RELIANCE") == 0


def test_a_modified_quantity_is_followed() -> None:
    d = Desk()
    s = d.strategy
    cid = s.buy("RELIANCE", 10, order_type="LIMIT", price="2400")
    d.order(cid, "BUY", 10, "OPEN", order_type="LIMIT")
    s.modify(cid, quantity=4)
    d.order(cid, "BUY", 4, "OPEN", order_type="LIMIT")
    assert s.open_quantity("RELIANCE") == 4


def test_an_error_with_the_client_order_id_ends_a_refused_order() -> None:
    d = Desk()
    s = d.strategy
    refused = s.buy("RELIANCE", 10)
    kept = s.buy("RELIANCE", 5)
    d.feed("error", json.dumps({"error": "NSE:RELIANCE is not among the strategy's instruments", "client_order_id": refused}))
    assert s.open_quantity("RELIANCE") == 5
    d.feed("error", json.dumps({"error": "a malformed message"}))  # names no order: changes nothing
    assert s.open_quantity("RELIANCE") == 5
    d.feed("error", json.dumps({"error": "?", "client_order_id": "not-mine"}))
    assert s.open_quantity("RELIANCE") == 5
    assert kept


def test_an_error_about_a_modify_of_a_working_order_keeps_it() -> None:
    # Once an event showed the engine has the order, an error naming it answers a modify or a
    # cancel: the order still works and may fill.
    d = Desk()
    s = d.strategy
    cid = s.buy("RELIANCE", 10, order_type="LIMIT", price="2400")
    d.order(cid, "BUY", 10, "OPEN", order_type="LIMIT")
    s.modify(cid, price="2400.12345")
    d.feed("error", json.dumps({"error": "'price' must be a number above 0 with at most 4 decimals", "client_order_id": cid}))
    assert s.open_quantity("RELIANCE") == 10
    d.fill(cid, "BUY", 10, "FILLED", filled=10, fill_quantity=10, order_type="LIMIT")
    assert s.open_quantity("RELIANCE") == 0


def test_a_cancel_refused_before_the_order_was_known_does_not_lose_the_order() -> None:
    # buy, then cancel before the first event: the engine answers the cancel with an error
    # naming the order ("not known yet"), then the order's events arrive.
    d = Desk()
    s = d.strategy
    cid = s.buy("RELIANCE", 10)
    s.cancel(cid)
    d.feed("error", json.dumps({"error": f"unknown client_order_id {cid} (not this process's, or its order is not known yet)",
                                "client_order_id": cid}))
    d.order(cid, "BUY", 10, "OPEN")
    assert s.open_quantity("RELIANCE") == 10
    d.fill(cid, "BUY", 10, "PARTIALLY_FILLED", filled=6, fill_quantity=6)
    assert s.open_quantity("RELIANCE") == 4


def test_events_of_orders_the_engine_placed_change_no_open_quantity() -> None:
    d = Desk()
    s = d.strategy
    s.buy("RELIANCE", 10)
    d.order(None, "SELL", 10, "OPEN")  # an MIS square-off: client_order_id null
    d.fill(None, "SELL", 10, "FILLED", filled=10, fill_quantity=10)
    assert s.open_quantity("RELIANCE") == 10


def test_handlers_see_the_events() -> None:
    seen: List[Tuple[str, Any]] = []

    class Recorder(Strategy):
        def on_order(self, order: Any) -> None:
            seen.append(("order", order))

        def on_fill(self, fill: Any) -> None:
            seen.append(("fill", fill))

    d = Desk()
    d.strategy = Recorder()
    d.runner.strategy = d.strategy
    d.strategy._link = d.link  # type: ignore[assignment]
    cid = d.strategy.buy("RELIANCE", 2)
    d.order(cid, "BUY", 2, "OPEN")
    d.fill(cid, "BUY", 2, "FILLED", filled=2, fill_quantity=2)
    assert [t for t, _ in seen] == ["order", "fill"]
    assert seen[1][1].fill_price == Decimal("2450.05") and seen[1][1].client_order_id == cid
    assert d.strategy.open_quantity("RELIANCE") == 0  # booked before the handler ran


# What the calls send --------------------------------------------------------------------------


def test_buy_sends_an_order_new() -> None:
    d = Desk()
    cid = d.strategy.buy("RELIANCE", 10)
    topic, body, raw = d.link.sent[-1]
    assert topic == "order.new"
    assert body == {"client_order_id": cid, "symbol": "RELIANCE", "exchange": "NSE", "transaction_type": "BUY",
                    "quantity": 10, "order_type": "MARKET", "product": "MIS"}  # None fields left out
    assert 1 <= len(cid) <= 64
    assert d.strategy.buy("RELIANCE", 1) != cid  # a new id each time


def test_prices_are_sent_exactly() -> None:
    d = Desk()
    d.strategy.sell("INFY", 3, exchange="BSE", order_type="SL", price="1499.95", trigger_price=Decimal("1500.0500"),
                    stoploss=1510, target=Decimal("1450.25"), product="CNC")
    topic, body, raw = d.link.sent[-1]
    assert b'"price":1499.95' in raw and b'"trigger_price":1500.0500' in raw and b'"stoploss":1510' in raw
    assert body["transaction_type"] == "SELL" and body["product"] == "CNC" and body["exchange"] == "BSE"
    assert body["target"] == Decimal("1450.25")


@pytest.mark.parametrize("field", ["price", "trigger_price", "stoploss", "target"])
def test_buy_and_sell_refuse_float_prices(field: str) -> None:
    d = Desk()
    floats: Dict[str, Any] = {field: 2450.05}
    for call in (d.strategy.buy, d.strategy.sell):
        with pytest.raises(TypeError):
            call("RELIANCE", 1, order_type="LIMIT", **floats)
        # Nothing sent, and no order booked that would never end.
        assert d.link.sent == [] and d.strategy.open_quantity("RELIANCE") == 0


@pytest.mark.parametrize("price", ["abc", "NaN", "Infinity", True])
def test_buy_refuses_prices_that_are_not_numbers(price: Any) -> None:
    d = Desk()
    with pytest.raises((TypeError, ValueError)):
        d.strategy.buy("RELIANCE", 1, order_type="LIMIT", price=price)
    assert d.link.sent == [] and d.strategy.open_quantity("RELIANCE") == 0


@pytest.mark.parametrize("quantity", [0, -1, True, 1.0, "5"])
def test_quantity_must_be_a_positive_int(quantity: Any) -> None:
    d = Desk()
    with pytest.raises(ValueError):
        d.strategy.buy("RELIANCE", quantity)
    assert d.link.sent == []


def test_modify_cancel_and_log() -> None:
    d = Desk()
    d.strategy.modify("c-1", price=Decimal("2400.5"))
    d.strategy.modify("c-1", quantity=4, trigger_price="2399")
    d.strategy.cancel("c-1")
    d.strategy.log("hello \u00e9")
    assert [(t, b) for t, b, _ in d.link.sent] == [
        ("order.modify", {"client_order_id": "c-1", "price": Decimal("2400.5")}),
        ("order.modify", {"client_order_id": "c-1", "quantity": 4, "trigger_price": 2399}),
        ("order.cancel", {"client_order_id": "c-1"}),
        ("log", {"message": "hello \u00e9"}),
    ]
    with pytest.raises(TypeError):
        d.strategy.modify("c-1", price=2400.5)  # type: ignore[arg-type]


def test_calls_need_a_connection() -> None:
    with pytest.raises(RuntimeError):
        Strategy().buy("RELIANCE", 1)
