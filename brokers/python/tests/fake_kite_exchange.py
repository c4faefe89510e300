"""The state of the fake Kite Connect (fake_kite.py serves it over HTTP): sessions, each user's
orders, trades, positions and funds, Kite's order validation, its rate limits, and an exchange
simulator the tests drive (fill, reject, cancel, trigger). Plain Python, no I/O: every change of
an order is handed to ``on_order`` (the ticker pushes it as an order update).

Errors are raised as ``KiteError(http_status, error_type, message)``, which the HTTP layer writes
in Kite's documented shape ``{"status": "error", "message": ..., "error_type": ...}``. The messages
are this fake's own (Kite documents the exception types and HTTP codes, not every sentence).
"""
from __future__ import annotations

import hashlib
import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

IST = timezone(timedelta(hours=5, minutes=30))
EXCHANGES = ("NSE", "BSE", "NFO", "CDS", "BFO", "MCX", "BCD")
EQUITY_EXCHANGES = ("NSE", "BSE")
SEGMENTS = {"NSE": 1, "NFO": 2, "CDS": 3, "BSE": 4, "BFO": 5, "BCD": 6, "MCX": 7}
VARIETIES = ("regular", "amo")          # simulated; co, iceberg and auction are refused
PRODUCTS = ("CNC", "NRML", "MIS", "MTF")
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
VALIDITIES = ("DAY", "IOC", "TTL")
WORKING = ("OPEN", "TRIGGER PENDING", "OPEN PENDING", "VALIDATION PENDING", "PUT ORDER REQ RECEIVED",
           "MODIFY PENDING", "MODIFY VALIDATION PENDING", "AMO REQ RECEIVED")
# Kite's published limits (docs "Exceptions and errors" / rate limits): orders 10/s, 200/min and
# 3,000/day per user; quote 1/s; historical 3/s; every other endpoint 10/s.
ORDER_LIMITS = ((1.0, 10), (60.0, 200), (86400.0, 3000))
OTHER_LIMITS = ((1.0, 10),)


class KiteError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


def kite_time(moment: datetime | None = None) -> str:
    """Kite's timestamps: IST wall clock, ``YYYY-MM-DD HH:MM:SS``."""
    return (moment or datetime.now(IST)).astimezone(IST).strftime("%Y-%m-%d %H:%M:%S")


def instrument_token(exchange: str, symbol: str) -> int:
    """A stable made-up token whose low byte is the exchange's segment (as Kite's are)."""
    digest = int.from_bytes(hashlib.sha256(f"{exchange}:{symbol}".encode()).digest()[:3], "big")
    return (digest << 8) | SEGMENTS.get(exchange, 1)


class RateLimiter:
    """Sliding windows per (user, category); ``check`` raises Kite's 429 when one is full."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], deque[float]] = {}
        self.enabled = True

    def check(self, user_id: str, category: str) -> None:
        if not self.enabled:
            return
        limits = ORDER_LIMITS if category == "orders" else OTHER_LIMITS
        now = time.monotonic()
        calls = self.calls.setdefault((user_id, category), deque())
        while calls and now - calls[0] > limits[-1][0]:
            calls.popleft()
        for window, most in limits:
            if sum(1 for t in calls if now - t < window) >= most:
                raise KiteError(429, "NetworkException", "Too many requests")
        calls.append(now)


@dataclass
class Account:
    user_id: str
    cash: float = 1_000_000.0
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    reject_next: list[str] = field(default_factory=list)  # RMS rejections for the next placements
    # Positions carried from earlier days ((exchange, tradingsymbol, product) -> quantity): in
    # the net positions (as overnight_quantity), not in the day positions.
    overnight: dict[tuple[str, str, str], int] = field(default_factory=dict)
    trades_lag: int = 0  # GET /trades reads still to leave out the latest trade


def _number(params: dict[str, str], name: str, default: float = 0.0) -> float:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise KiteError(400, "InputException", f"Invalid `{name}`.") from None


class FakeKite:
    """All of the fake's state. ``on_order(user_id, order)`` is called on every order change."""

    def __init__(self, on_order: Callable[[str, dict[str, Any]], None]) -> None:
        self.on_order = on_order
        self.apps: dict[str, str] = {}                       # api_key -> api_secret
        self.sessions: dict[str, tuple[str, str]] = {}      # access_token -> (api_key, user_id)
        self.request_tokens: dict[str, tuple[str, str, str]] = {}  # -> (api_key, user_id, access_token)
        self.accounts: dict[str, Account] = {}
        self.limiter = RateLimiter()
        self._order_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self.day = datetime.now(IST).strftime("%y%m%d")

    # -- sessions ---------------------------------------------------------------------------
    def account(self, user_id: str) -> Account:
        return self.accounts.setdefault(user_id, Account(user_id))

    def add_session(self, api_key: str, access_token: str, user_id: str = "AB1234", api_secret: str = "") -> None:
        if api_secret:
            self.apps[api_key] = api_secret
        self.sessions[access_token] = (api_key, user_id)
        self.account(user_id)

    def authenticate(self, api_key: str, access_token: str) -> str | None:
        session = self.sessions.get(access_token)
        return session[1] if session and session[0] == api_key else None

    def user_for_header(self, header: str | None) -> str:
        """The user of ``Authorization: token api_key:access_token``, or Kite's 403."""
        if not header or not header.startswith("token ") or ":" not in header:
            raise KiteError(403, "TokenException", "Incorrect `api_key` or `access_token`.")
        api_key, _, token = header[len("token "):].partition(":")
        user = self.authenticate(api_key, token)
        if user is None:
            raise KiteError(403, "TokenException", "Incorrect `api_key` or `access_token`.")
        return user

    def expire(self, access_token: str | None) -> list[str]:
        """Ends one session (or all); returns the users whose sessions ended."""
        tokens = [access_token] if access_token else list(self.sessions)
        return [self.sessions.pop(t)[1] for t in tokens if t in self.sessions]

    def exchange_token(self, params: dict[str, str]) -> dict[str, Any]:
        api_key, request_token, checksum = (params.get(k, "") for k in ("api_key", "request_token", "checksum"))
        entry = self.request_tokens.get(request_token)
        secret = self.apps.get(api_key)
        if entry is None or entry[0] != api_key or secret is None:
            raise KiteError(403, "TokenException", "Token is invalid or has expired.")
        if checksum != hashlib.sha256((api_key + request_token + secret).encode()).hexdigest():
            raise KiteError(403, "TokenException", "Invalid checksum")
        del self.request_tokens[request_token]  # a request token is good for one exchange
        _, user_id, access_token = entry
        self.sessions[access_token] = (api_key, user_id)
        self.account(user_id)
        return {"user_type": "individual", "email": f"{user_id.lower()}@example.invalid",
                "user_name": "Fake User", "user_shortname": "Fake", "broker": "ZERODHA",
                "exchanges": list(EXCHANGES), "products": ["CNC", "NRML", "MIS", "BO", "CO"],
                "order_types": list(ORDER_TYPES), "avatar_url": None, "user_id": user_id,
                "api_key": api_key, "access_token": access_token, "public_token": "fake-public",
                "refresh_token": "", "enctoken": "", "login_time": kite_time(),
                "meta": {"demat_consent": "consent"}}

    # -- orders -----------------------------------------------------------------------------
    def _validate(self, params: dict[str, str], variety: str) -> None:
        if variety not in VARIETIES:
            raise KiteError(400, "InputException", f"Invalid `variety`: {variety} is not simulated by this fake.")
        for name in ("exchange", "tradingsymbol", "transaction_type", "quantity", "product", "order_type"):
            if not params.get(name):
                raise KiteError(400, "InputException", f"Missing `{name}`.")
        if params["exchange"] not in EXCHANGES:
            raise KiteError(400, "InputException", "Invalid `exchange`.")
        if params["transaction_type"] not in ("BUY", "SELL"):
            raise KiteError(400, "InputException", "Invalid `transaction_type`.")
        if not params["quantity"].isdigit() or int(params["quantity"]) <= 0:
            raise KiteError(400, "InputException", "Invalid `quantity`.")
        product, order_type = params["product"], params["order_type"]
        if product not in PRODUCTS:
            raise KiteError(400, "InputException", "Invalid `product`.")
        if product in ("CNC", "MTF") and params["exchange"] not in EQUITY_EXCHANGES:
            raise KiteError(400, "InputException", f"{product} is not allowed on {params['exchange']}.")
        if product == "NRML" and params["exchange"] in EQUITY_EXCHANGES:
            raise KiteError(400, "InputException", f"NRML is not allowed on {params['exchange']}.")
        if order_type not in ORDER_TYPES:
            raise KiteError(400, "InputException", "Invalid `order_type`.")
        validity = params.get("validity") or "DAY"
        if validity not in VALIDITIES:
            raise KiteError(400, "InputException", "Invalid `validity`.")
        if validity == "TTL" and not (params.get("validity_ttl") or "").isdigit():
            raise KiteError(400, "InputException", "Invalid `validity_ttl`: TTL orders need a validity in minutes.")
        if order_type in ("LIMIT", "SL") and _number(params, "price") <= 0:
            raise KiteError(400, "InputException", "Invalid `price`.")
        if order_type in ("SL", "SL-M") and _number(params, "trigger_price") <= 0:
            raise KiteError(400, "InputException", "Invalid `trigger_price`: a trigger price is required for SL and SL-M orders.")
        if order_type in ("MARKET", "SL-M"):
            # Kite's rule for API orders (2025): -1 (automatic) or a percentage up to 100; 0 or
            # none is refused. The message is as Zerodha's notice worded it; unverified on Kite.
            protection = params.get("market_protection") or "0"
            if protection not in ("-1",) and not (protection.isdigit() and 1 <= int(protection) <= 100):
                raise KiteError(400, "InputException", "Market orders without market protection are not allowed via API. "
                                "Please set market protection or use a Limit order.")
        tag = params.get("tag") or ""
        if len(tag) > 20 or not all(c.isalnum() or c in "_-" for c in tag):
            raise KiteError(400, "InputException", "Invalid `tag`: at most 20 alphanumeric characters.")

    def place(self, user_id: str, variety: str, params: dict[str, str]) -> str:
        self._validate(params, variety)
        account = self.account(user_id)
        order_id = f"{self.day}{next(self._order_ids):09d}"
        now = kite_time()
        order_type = params["order_type"]
        order: dict[str, Any] = {
            "account_id": user_id, "placed_by": user_id, "order_id": order_id, "exchange_order_id": None,
            "parent_order_id": None, "status": "PUT ORDER REQ RECEIVED", "status_message": None,
            "status_message_raw": None, "order_timestamp": now, "exchange_update_timestamp": None,
            "exchange_timestamp": None, "variety": variety, "modified": False,
            "exchange": params["exchange"], "tradingsymbol": params["tradingsymbol"],
            "instrument_token": instrument_token(params["exchange"], params["tradingsymbol"]),
            "order_type": order_type, "transaction_type": params["transaction_type"],
            "validity": params.get("validity") or "DAY",
            "validity_ttl": int(params["validity_ttl"]) if params.get("validity_ttl") else 0,
            "product": params["product"], "quantity": int(params["quantity"]),
            "disclosed_quantity": int(params.get("disclosed_quantity") or 0),
            "price": _number(params, "price") if order_type in ("LIMIT", "SL") else 0.0,
            "trigger_price": _number(params, "trigger_price") if order_type in ("SL", "SL-M") else 0.0,
            "average_price": 0.0, "filled_quantity": 0, "pending_quantity": int(params["quantity"]),
            "cancelled_quantity": 0, "market_protection": int(params.get("market_protection") or 0), "meta": {},
            "tag": params.get("tag") or None, "tags": [params["tag"]] if params.get("tag") else None,
            "guid": f"fake-{order_id}",
        }
        account.orders[order_id] = order
        account.history[order_id] = []
        self._record(account, order)
        if account.reject_next:
            self._change(account, order, status="REJECTED", status_message=account.reject_next.pop(0))
        else:
            self._change(account, order, status="TRIGGER PENDING" if order_type in ("SL", "SL-M") else "OPEN",
                         exchange_order_id=f"1{order_id[-15:]}", exchange_timestamp=kite_time())
        return order_id

    def order(self, user_id: str, order_id: str) -> dict[str, Any]:
        order = self.account(user_id).orders.get(order_id)
        if order is None:
            raise KiteError(400, "InputException", "Couldn't find that `order_id`.")
        return order

    def modify(self, user_id: str, variety: str, order_id: str, params: dict[str, str]) -> str:
        order = self.order(user_id, order_id)
        if order["variety"] != variety:
            raise KiteError(400, "InputException", "Invalid `variety` for this order.")
        if order["status"] not in WORKING:
            raise KiteError(400, "OrderException", f"Order cannot be modified as it is {order['status']}.")
        changes: dict[str, Any] = {}
        order_type = params.get("order_type") or order["order_type"]
        if order_type not in ORDER_TYPES:
            raise KiteError(400, "InputException", "Invalid `order_type`.")
        changes["order_type"] = order_type
        if params.get("quantity"):
            quantity = int(params["quantity"]) if params["quantity"].isdigit() else -1
            if quantity <= 0 or quantity < order["filled_quantity"]:
                raise KiteError(400, "InputException", "Invalid `quantity`.")
            changes["quantity"], changes["pending_quantity"] = quantity, quantity - order["filled_quantity"]
        if params.get("price"):
            changes["price"] = _number(params, "price")
        if params.get("trigger_price"):
            changes["trigger_price"] = _number(params, "trigger_price")
        if order_type in ("SL", "SL-M") and changes.get("trigger_price", order["trigger_price"]) <= 0:
            raise KiteError(400, "InputException", "Invalid `trigger_price`.")
        if params.get("validity"):
            changes["validity"] = params["validity"]
        account = self.account(user_id)
        self._change(account, order, modified=True, **changes)
        if changes.get("pending_quantity") == 0:
            self._change(account, order, status="COMPLETE")
        return order_id

    def cancel(self, user_id: str, variety: str, order_id: str) -> str:
        order = self.order(user_id, order_id)
        if order["status"] not in WORKING:
            raise KiteError(400, "OrderException", f"Order cannot be cancelled as it is {order['status']}.")
        self._change(self.account(user_id), order, status="CANCELLED", status_message=None,
                     cancelled_quantity=order["pending_quantity"], pending_quantity=0)
        return order_id

    def _record(self, account: Account, order: dict[str, Any]) -> None:
        account.history[order["order_id"]].append(dict(order))

    def _change(self, account: Account, order: dict[str, Any], **changes: Any) -> None:
        order.update(changes)
        order["exchange_update_timestamp"] = kite_time()
        self._record(account, order)
        update = dict(order)
        update["unfilled_quantity"] = order["pending_quantity"]  # the legacy field updates carry
        update["app_id"] = 0
        update["checksum"] = ""
        self.on_order(account.user_id, update)

    # -- the exchange simulator (the tests' /_fake/ commands) -------------------------------
    def _find(self, order_id: str) -> tuple[Account, dict[str, Any]]:
        for account in self.accounts.values():
            if order_id in account.orders:
                return account, account.orders[order_id]
        raise KiteError(404, "GeneralException", f"no order {order_id}")

    def fill(self, order_id: str, quantity: int | None = None, price: float | None = None) -> dict[str, Any]:
        account, order = self._find(order_id)
        if order["status"] not in WORKING:
            raise KiteError(409, "GeneralException", f"order {order_id} is {order['status']}")
        quantity = order["pending_quantity"] if quantity is None else quantity
        if not 0 < quantity <= order["pending_quantity"]:
            raise KiteError(400, "GeneralException", f"fill quantity {quantity} not in 1..{order['pending_quantity']}")
        price = price if price is not None else (order["price"] or order["trigger_price"])
        if not price or price <= 0:
            raise KiteError(400, "GeneralException", "a price is needed to fill this order")
        if order["status"] == "TRIGGER PENDING":
            self._change(account, order, status="OPEN")
        now = kite_time()
        trade = {"trade_id": f"{next(self._trade_ids) + 10000000}", "order_id": order_id,
                 "exchange": order["exchange"], "tradingsymbol": order["tradingsymbol"],
                 "instrument_token": order["instrument_token"], "product": order["product"],
                 "average_price": price, "quantity": quantity,
                 "exchange_order_id": order["exchange_order_id"], "transaction_type": order["transaction_type"],
                 "fill_timestamp": now, "order_timestamp": now[11:], "exchange_timestamp": now}
        account.trades.append(trade)
        filled = order["filled_quantity"] + quantity
        average = (order["average_price"] * order["filled_quantity"] + price * quantity) / filled
        self._change(account, order, filled_quantity=filled, pending_quantity=order["quantity"] - filled,
                     average_price=round(average, 4),
                     status="COMPLETE" if filled == order["quantity"] else "OPEN")
        return trade

    def reject(self, order_id: str, reason: str) -> None:
        account, order = self._find(order_id)
        self._change(account, order, status="REJECTED", status_message=reason, status_message_raw=reason,
                     pending_quantity=0)

    def exchange_cancel(self, order_id: str, reason: str) -> None:
        account, order = self._find(order_id)
        if order["status"] not in WORKING:
            raise KiteError(409, "GeneralException", f"order {order_id} is {order['status']}")
        self._change(account, order, status="CANCELLED", status_message=reason or None,
                     cancelled_quantity=order["pending_quantity"], pending_quantity=0)

    def trigger(self, order_id: str) -> None:
        account, order = self._find(order_id)
        if order["status"] != "TRIGGER PENDING":
            raise KiteError(409, "GeneralException", f"order {order_id} is {order['status']}")
        self._change(account, order, status="OPEN")

    # -- portfolio --------------------------------------------------------------------------
    def positions(self, user_id: str) -> dict[str, list[dict[str, Any]]]:
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        account = self.account(user_id)
        for trade in account.trades:
            key = (trade["exchange"], trade["tradingsymbol"], trade["product"])
            row = rows.setdefault(key, {
                "tradingsymbol": key[1], "exchange": key[0], "instrument_token": trade["instrument_token"],
                "product": key[2], "quantity": 0, "overnight_quantity": 0, "multiplier": 1,
                "average_price": 0.0, "close_price": 0.0, "last_price": trade["average_price"], "value": 0.0,
                "pnl": 0.0, "m2m": 0.0, "unrealised": 0.0, "realised": 0.0,
                "buy_quantity": 0, "buy_price": 0.0, "buy_value": 0.0, "buy_m2m": 0.0,
                "sell_quantity": 0, "sell_price": 0.0, "sell_value": 0.0, "sell_m2m": 0.0,
                "day_buy_quantity": 0, "day_buy_price": 0.0, "day_buy_value": 0.0,
                "day_sell_quantity": 0, "day_sell_price": 0.0, "day_sell_value": 0.0})
            side = "buy" if trade["transaction_type"] == "BUY" else "sell"
            row[f"{side}_quantity"] += trade["quantity"]
            row[f"{side}_value"] += trade["quantity"] * trade["average_price"]
            row[f"{side}_price"] = row[f"{side}_value"] / row[f"{side}_quantity"]
            for name in ("quantity", "value", "price"):
                row[f"day_{side}_{name}"] = row[f"{side}_{name}"]
            row["quantity"] = row["buy_quantity"] - row["sell_quantity"]
            row["value"] = row["sell_value"] - row["buy_value"]
            row["average_price"] = row["buy_price"] if row["quantity"] >= 0 else row["sell_price"]
        day = [dict(r) for r in rows.values()]
        # Kite's net rows add what earlier days carried; its day rows are today's trades only.
        for key, quantity in account.overnight.items():
            row = rows.setdefault(key, {"tradingsymbol": key[1], "exchange": key[0], "instrument_token": instrument_token(key[0], key[1]),
                                        "product": key[2], "quantity": 0, "overnight_quantity": 0})
            row["overnight_quantity"] = quantity
            row["quantity"] = row["quantity"] + quantity
        return {"net": list(rows.values()), "day": day}

    def margins(self, user_id: str) -> dict[str, Any]:
        cash = self.account(user_id).cash

        def segment() -> dict[str, Any]:
            return {"enabled": True, "net": cash,
                    "available": {"adhoc_margin": 0, "cash": cash, "opening_balance": cash,
                                  "live_balance": cash, "collateral": 0, "intraday_payin": 0},
                    "utilised": {"debits": 0, "exposure": 0, "m2m_realised": 0, "m2m_unrealised": 0,
                                 "option_premium": 0, "payout": 0, "span": 0, "holding_sales": 0,
                                 "turnover": 0, "liquid_collateral": 0, "stock_collateral": 0, "delivery": 0}}
        return {"equity": segment(), "commodity": segment()}
