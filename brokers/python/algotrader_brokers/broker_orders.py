"""The engine's orders as a broker holds them, in words every broker adapter shares
(tracked_orders.py works on them; kite/adapter.py and smartapi/adapter.py turn their broker's
answers into them): the failures a broker call ends in, the tag an order carries at the broker,
exec ids, prices, a broker order's state, a trade, and what is tracked of each engine order."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

# Backoff before each retry of a transient failure (about 6 s in all).
RETRY_DELAYS = (0.2, 0.4, 0.8, 1.6, 3.2)
FUNDS_SECONDS = 60.0
UNRESOLVED_SECONDS = 120.0
# Waiting longer than this for an order-rate window is pointless for a live order; a daily cap
# is never waited out.
MAX_PLACE_WAIT = 61.0


class SessionExpired(Exception):
    """The broker refused the session token (expired or revoked)."""


class Transient(Exception):
    """The broker could not be reached or asked us to slow down, every retry included; ``code``
    is the HTTP status (429: rate-limited, so certainly not carried out), 0 for a connection
    failure."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class Refused(Exception):
    """The broker refused the call for good: its message."""


def order_tag(order_id: str) -> str:
    """The engine order's tag at the broker: the first 20 hex digits of its UUIDv7 (its
    millisecond time, the generator's counter and 14 random bits: the engine's generator makes
    them unique, and two engines would have to place in the same millisecond to collide). Kite's
    ``tag`` and Angel One's ``ordertag`` take at most 20 characters."""
    return order_id.replace("-", "").lower()[:20]


def exec_id(broker_order_id: str, trade_id: Any) -> str:
    return f"{broker_order_id}:{trade_id}"


def price(value: Any) -> float | None:
    """A broker's price as the engine takes it (at most 4 decimals); 0 (or empty) means none."""
    if value is None or value == "":
        return None
    number = round(float(value), 4)
    return number if number > 0 else None


# BrokerOrder.state values.
UNCONFIRMED, WORKING, COMPLETE, CANCELLED, REJECTED = "unconfirmed", "working", "complete", "cancelled", "rejected"
ENDED_STATES = (COMPLETE, CANCELLED, REJECTED)


@dataclass(frozen=True)
class BrokerOrder:
    """One order as the broker shows it, in the engine's words. ``state``: UNCONFIRMED (the
    broker has not finished validating it), WORKING, COMPLETE, CANCELLED or REJECTED."""

    broker_order_id: str
    tag: str
    state: str
    symbol: str
    exchange: str
    side: str
    order_type: str
    quantity: int
    filled: int
    price: float | None
    trigger_price: float | None
    reason: str | None = None
    # False while a modification is pending at the broker: the quantity and prices shown are the
    # old ones (Angel One pushes "modify pending" with them), not a change to report.
    settled: bool = True
    # Broker-specific fields a later modify or cancel needs (copied to Tracked.extra on adoption).
    extra: JSON = field(default_factory=dict)

    def engine_status(self) -> str:
        if self.state == COMPLETE:
            return "FILLED"
        if self.state == CANCELLED:
            return "CANCELLED"
        if self.state == REJECTED:
            return "REJECTED"
        if self.state == UNCONFIRMED:
            return "PENDING"
        return "PARTIALLY_FILLED" if self.filled > 0 else "OPEN"


@dataclass(frozen=True)
class BrokerTrade:
    """One execution as the broker's trade book shows it."""

    broker_order_id: str
    trade_id: str
    symbol: str
    exchange: str
    side: str
    quantity: int
    price: float | None
    ts: str | None  # RFC 3339 UTC, or None (the engine's clock then)


@dataclass
class Tracked:
    """An engine order at the broker, and what has been reported of it."""

    order_id: str
    tag: str
    symbol: str
    exchange: str
    side: str
    order_type: str
    quantity: int
    price: float | None
    trigger_price: float | None
    broker_order_id: str | None = None
    accepted: bool = False
    ended: bool = False
    execs: set[str] = field(default_factory=set)
    filled: int = 0
    modifications: int = 0
    cancel_reason: str | None = None
    # When the broker's answer to its placement was lost (every retry timed out or failed, the
    # look-up by tag too): it may be at the broker or not. Each poll looks for it by its tag;
    # after UNRESOLVED_SECONDS without it, it is reported rejected.
    unresolved_since: float | None = None
    # A cancel that came while unresolved: carried out once the order book shows the order.
    cancel_wanted: bool = False
    # Broker-specific fields a later modify or cancel needs (Angel One's variety, token, ...).
    extra: JSON = field(default_factory=dict)
