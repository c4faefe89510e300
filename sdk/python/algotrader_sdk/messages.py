"""The strategy protocol's messages as Python values (docs/strategies-sdk.md).

Prices arrive as JSON numbers and become `Decimal` exactly (never through `float`); what the SDK
sends is written by `encode`, which writes a `Decimal` as the plain number it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Dict, Mapping, Optional, Union

Scalar = Union[None, bool, int, str, Decimal]


def _constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


def decode(payload: bytes) -> Dict[str, Any]:
    """A message's JSON object, numbers with a fraction or exponent as `Decimal` (strict JSON:
    `NaN` and `Infinity` are refused)."""
    value = json.loads(payload.decode("utf-8"), parse_float=Decimal, parse_constant=_constant)
    if not isinstance(value, dict):
        raise ValueError("a message must be a JSON object")
    return value


def _number(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    text = format(value, "f")
    return text


def encode(fields: Mapping[str, Scalar]) -> bytes:
    """A flat JSON object; `Decimal` values as exact JSON numbers, `None` values left out."""
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, float):
            raise TypeError(f"{key}: a float misrounds money; send a Decimal, an int or a str")
        if isinstance(value, bool) or not isinstance(value, Decimal):
            text = json.dumps(value, ensure_ascii=False)
        else:
            text = _number(value)
        parts.append(json.dumps(key) + ":" + text)
    return ("{" + ",".join(parts) + "}").encode("utf-8")


def decimal(value: Any) -> Decimal:
    """A JSON number (int or Decimal) as `Decimal`."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValueError(f"not a number: {value!r}")
    return Decimal(value)


def optional_decimal(value: Any) -> Optional[Decimal]:
    return None if value is None else decimal(value)


def timestamp(value: Any) -> datetime:
    """RFC 3339 (`2026-11-24T03:45:00.123456Z`; the engine writes UTC) as an aware UTC datetime.
    The offset is required: a time without one is refused, never read as the local time."""
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"a timestamp needs its offset (Z or +HH:MM): {value!r}")
    return parsed.astimezone(timezone.utc)


@dataclass(frozen=True)
class Tick:
    symbol: str
    exchange: str
    price: Decimal
    qty: int
    ts: datetime

    @staticmethod
    def from_message(body: Mapping[str, Any]) -> "Tick":
        return Tick(symbol=str(body["symbol"]), exchange=str(body["exchange"]), price=decimal(body["price"]),
                    qty=int(body.get("qty", 0)), ts=timestamp(body["ts"]))


@dataclass(frozen=True)
class Bar:
    symbol: str
    exchange: str
    interval: str
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int

    @staticmethod
    def from_message(body: Mapping[str, Any]) -> "Bar":
        return Bar(symbol=str(body["symbol"]), exchange=str(body["exchange"]), interval=str(body["interval"]),
                   start=timestamp(body["start"]), open=decimal(body["open"]), high=decimal(body["high"]),
                   low=decimal(body["low"]), close=decimal(body["close"]), volume=int(body.get("volume", 0)))


class Event:
    """An order or fill event: the bus payload's fields as attributes (`order.status`,
    `fill.fill_price`, ...), prices as `Decimal`, plus `client_order_id` (None for orders the
    engine placed for the strategy, such as an MIS square-off)."""

    _money = {"price", "trigger_price", "stoploss", "target", "fill_price", "average_price"}

    def __init__(self, body: Mapping[str, Any]) -> None:
        self._fields: Dict[str, Any] = {}
        for key, value in body.items():
            self._fields[key] = optional_decimal(value) if key in self._money else value
        self._fields.setdefault("client_order_id", None)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_fields"][name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, name: str, default: Any = None) -> Any:
        return self._fields.get(name, default)

    def __repr__(self) -> str:
        return f"Event({self._fields!r})"
