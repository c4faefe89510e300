"""Decoding what the engine sends and encoding what the SDK sends (algotrader_sdk.messages)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from algotrader_sdk.messages import Bar, Event, Tick, decimal, decode, encode, timestamp

from conftest import bar, order_event, tick


# Decoding -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, exact", [
    ("2450.05", "2450.05"),
    ("0.1", "0.1"),  # float(0.1) is 0.1000000000000000055511151231257827...
    ("0.0025", "0.0025"),
    ("99999999999999.9999", "99999999999999.9999"),  # past a double's 15-17 digits
    ("-12.3400", "-12.3400"),
    ("1e3", "1E+3"),
    ("2.5E-2", "0.025"),
])
def test_prices_become_decimal_exactly(text: str, exact: str) -> None:
    body = decode(('{"price":' + text + "}").encode())
    price = body["price"]
    assert type(price) is Decimal
    assert price == Decimal(exact)
    assert str(price) == str(Decimal(text))  # the digits sent, never a float's


def test_integers_stay_integers_and_decimal_accepts_them() -> None:
    body = decode(b'{"qty":25,"price":2450}')
    assert body["qty"] == 25 and type(body["qty"]) is int
    assert decimal(body["price"]) == Decimal(2450) and type(decimal(body["price"])) is Decimal


@pytest.mark.parametrize("value", ["2450.05", True, None, 2450.05, [1]])
def test_decimal_refuses_what_is_not_a_json_number(value: Any) -> None:
    with pytest.raises(ValueError):
        decimal(value)


def test_tick_from_message() -> None:
    t = Tick.from_message(decode(tick("RELIANCE", "2450.0500", ts="2026-11-24T03:45:00.123456Z", qty=7).encode()))
    assert t == Tick(symbol="RELIANCE", exchange="NSE", price=Decimal("2450.05"), qty=7,
                     ts=datetime(2026, 11, 24, 3, 45, 0, 123456, tzinfo=timezone.utc))
    assert str(t.price) == "2450.0500"
    assert t.ts.utcoffset() == timedelta(0)


def test_bar_from_message() -> None:
    b = Bar.from_message(decode(bar("INFY", "1500", "1510.25", "1499.9", "1505.5", volume=1234).encode()))
    assert (b.symbol, b.exchange, b.interval, b.volume) == ("INFY", "NSE", "1min", 1234)
    assert (b.open, b.high, b.low, b.close) == (Decimal(1500), Decimal("1510.25"), Decimal("1499.9"), Decimal("1505.5"))
    assert all(type(x) is Decimal for x in (b.open, b.high, b.low, b.close))
    assert b.start == datetime(2026, 11, 24, 3, 45, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, expected", [
    ("2026-11-24T03:45:00.123456Z", datetime(2026, 11, 24, 3, 45, 0, 123456, tzinfo=timezone.utc)),
    ("2026-11-24T03:45:00Z", datetime(2026, 11, 24, 3, 45, tzinfo=timezone.utc)),
    ("2026-11-24T09:15:00.5+05:30", datetime(2026, 11, 24, 3, 45, 0, 500000, tzinfo=timezone.utc)),
    ("2026-11-24T03:45:00+00:00", datetime(2026, 11, 24, 3, 45, tzinfo=timezone.utc)),
])
def test_timestamps_become_aware_utc(text: str, expected: datetime) -> None:
    ts = timestamp(text)
    assert ts == expected
    assert ts.tzinfo is timezone.utc


@pytest.mark.parametrize("value", [
    "2026-11-24T03:45:00",  # no offset: RFC 3339 requires one; never read as local time
    "2026-11-24T03:45:00.123456",
    "yesterday",
    "",
    1764000000,
    None,
])
def test_bad_timestamps_raise(value: Any) -> None:
    with pytest.raises(ValueError):
        timestamp(value)


@pytest.mark.parametrize("payload", [
    b"[1, 2]",
    b'"text"',
    b"12",
    b"null",
    b"{",
    b'{"price": 1,}',
    b"",
    b'{"price": NaN}',
    b'{"price": Infinity}',
    b'{"price": -Infinity}',
    b'\xff\xfe{"price": 1}',  # not UTF-8
])
def test_bad_payloads_raise(payload: bytes) -> None:
    with pytest.raises(ValueError):
        decode(payload)


@pytest.mark.parametrize("body", [
    '{"symbol":"X","exchange":"NSE","ts":"2026-11-24T03:45:00Z"}',  # no price
    '{"symbol":"X","exchange":"NSE","price":"10.5","ts":"2026-11-24T03:45:00Z"}',  # price as a string
    '{"symbol":"X","exchange":"NSE","price":true,"ts":"2026-11-24T03:45:00Z"}',
    '{"symbol":"X","exchange":"NSE","price":10.5,"ts":"2026-11-24T03:45:00"}',  # naive time
    '{"symbol":"X","exchange":"NSE","price":10.5}',  # no ts
])
def test_bad_ticks_raise(body: str) -> None:
    with pytest.raises((KeyError, ValueError)):
        Tick.from_message(decode(body.encode()))


def test_event_fields_and_money() -> None:
    e = Event(decode(order_event("c-1", side="BUY", quantity=10, status="FILLED", filled=10, average="2450.0333",
                                 fill=(10, "2450.05")).encode()))
    assert e.status == "FILLED" and e.quantity == 10 and e.filled_quantity == 10 and e.client_order_id == "c-1"
    assert e.fill_price == Decimal("2450.05") and type(e.fill_price) is Decimal
    assert e.average_price == Decimal("2450.0333")
    assert e.parent_order_id is None
    assert e.get("missing", "d") == "d"
    with pytest.raises(AttributeError):
        e.missing
    o = Event(decode(order_event(None, side="SELL", quantity=5, status="OPEN").encode()))
    assert o.price is None and o.stoploss is None and o.client_order_id is None
    assert Event({"status": "OPEN"}).client_order_id is None  # added when absent
    with pytest.raises(ValueError):
        Event({"price": "12.5"})  # a money field that is not a number


# Encoding -------------------------------------------------------------------------------------


def test_encode_writes_decimals_as_exact_json_numbers_and_leaves_none_out() -> None:
    out = encode({"a": Decimal("2450.0500"), "b": None, "c": 5, "d": "x\u00e9\"", "e": True, "f": Decimal("-0.0025")})
    assert out == '{"a":2450.0500,"c":5,"d":"x\u00e9\\"","e":true,"f":-0.0025}'.encode()
    assert json.loads(out, parse_float=Decimal) == {"a": Decimal("2450.05"), "c": 5, "d": "x\u00e9\"", "e": True,
                                                    "f": Decimal("-0.0025")}


@pytest.mark.parametrize("value, text", [
    (Decimal("1E+2"), "100"),
    (Decimal("1.5E-7"), "0.00000015"),
    (Decimal("12345678901234.5678"), "12345678901234.5678"),
    (Decimal(7), "7"),
])
def test_encode_never_writes_an_exponent(value: Decimal, text: str) -> None:
    assert encode({"p": value}) == ('{"p":' + text + "}").encode()


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_encode_refuses_non_finite(value: Decimal) -> None:
    with pytest.raises(ValueError):
        encode({"p": value})


def test_encode_refuses_floats() -> None:
    with pytest.raises(TypeError):
        encode({"p": 2450.05})  # type: ignore[dict-item]


def test_round_trip_is_exact() -> None:
    fields = {"price": Decimal("0.1"), "trigger_price": Decimal("99999999999999.9999")}
    assert decode(encode(fields)) == fields
