"""The data of the fake Angel One SmartAPI (fake_angel_exchange.py's state works on it): its
constants, errors, the TOTP and JWT of its sessions, the scrip master, accounts, and the order
book's rendering in SmartAPI's field names and value spellings. Which facts come from Angel's
documentation and which are this fake's own choices: fake_angel.py's and fake_angel_exchange.py's
docstrings."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import secrets
import struct
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

IST = timezone(timedelta(hours=5, minutes=30))
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
EXCHANGES = ("NSE", "BSE", "NFO", "BFO", "MCX", "CDS")
EQUITY_EXCHANGES = ("NSE", "BSE")
LOT_EXCHANGES = ("NFO", "BFO")          # quantities there are units, in multiples of the lot size
VARIETIES = ("NORMAL", "STOPLOSS")      # simulated; ROBO (AB2002) and AMO (AB1008) are refused
PRODUCTS = ("DELIVERY", "CARRYFORWARD", "MARGIN", "INTRADAY")  # BO (ROBO only) is refused
ORDER_TYPES = ("MARKET", "LIMIT", "STOPLOSS_LIMIT", "STOPLOSS_MARKET")
STOPLOSS_TYPES = ("STOPLOSS_LIMIT", "STOPLOSS_MARKET")
PRICED_TYPES = ("LIMIT", "STOPLOSS_LIMIT")
DURATIONS = ("DAY", "IOC")
# Working orders, by ``orderstatus`` (``status`` says "modified" after a modification).
WORKING = ("open pending", "open", "trigger pending", "modify pending")
# The order-update socket's "order-status" codes (docs, Websocket Order Status), by ``status``.
ORDER_STATUS_CODES = {"open": "AB01", "cancelled": "AB02", "rejected": "AB03", "modified": "AB04",
                      "complete": "AB05", "open pending": "AB09", "trigger pending": "AB10",
                      "modify pending": "AB11"}
# SmartAPI's documented limits (docs, Rate Limit), per client code; place, modify and cancel
# share one budget ("enforced cumulatively ... must not exceed 9 requests per second").
RATE_LIMITS: dict[str, tuple[tuple[float, int], ...]] = {
    "login": ((1.0, 1),),
    "tokens": ((1.0, 1), (3600.0, 1000)),
    "profile": ((1.0, 3), (3600.0, 1000)),
    "logout": ((1.0, 1),),
    "rms": ((1.0, 2),),
    "orders": ((1.0, 9), (60.0, 500), (3600.0, 1000)),
    "orderbook": ((1.0, 1),),
    "tradebook": ((1.0, 1),),
    "position": ((1.0, 1),),
    "details": ((1.0, 10), (60.0, 500), (3600.0, 5000)),
}
RATE_LIMIT_TEXT = "Access denied because of exceeding access rate"

# (errorcode, message) of the documented token and session errors.
INVALID_TOKEN = ("AG8001", "Invalid Token")
TOKEN_EXPIRED = ("AG8002", "Token Expired")
TOKEN_MISSING = ("AG8003", "Token missing")
INVALID_API_KEY = ("AG8004", "Invalid API Key")
INVALID_REFRESH = ("AB8050", "Invalid Refresh Token")
REFRESH_EXPIRED = ("AB8051", "Refresh Token Expired")


class AngelError(Exception):
    """An error answer. ``kind``: "api" (the documented envelope), "token" (AG80xx: the envelope
    the fake is set to use for token errors) or "rate" (Angel's plain-text 403)."""

    def __init__(self, status: int, errorcode: str, message: str, kind: str = "api") -> None:
        super().__init__(message)
        self.status, self.errorcode, self.message, self.kind = status, errorcode, message, kind


def _invalid(message: str) -> AngelError:
    """A validation failure SmartAPI documents no code for: AB1004 (its catch-all, which is also
    what it answers to malformed requests), HTTP 200 like its other business errors."""
    return AngelError(200, "AB1004", message)


def angel_time(moment: datetime | None = None) -> str:
    """Angel's timestamps: IST wall clock, ``26-Dec-2024 13:48:37`` (month names spelled out here
    rather than by ``%b``, which follows the locale)."""
    t = (moment or datetime.now(IST)).astimezone(IST)
    return f"{t.day:02d}-{MONTHS[t.month - 1]}-{t.year} {t:%H:%M:%S}"


def totp(secret: str, at: float | None = None, step_offset: int = 0) -> str:
    """RFC 6238 TOTP as Angel's authenticator enrolment uses it: HMAC-SHA1, 30 s steps, 6 digits,
    base32 secret (case and padding forgiven)."""
    cleaned = secret.replace(" ", "").upper()
    key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    counter = int((time.time() if at is None else at) // 30) + step_offset
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (int.from_bytes(digest[offset:offset + 4], "big") & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def _fake_jwt() -> str:
    """A random token shaped like Angel's (a JWT: three base64url parts), unguessable per login."""
    return f"eyJhbGciOiJIUzUxMiJ9.{secrets.token_urlsafe(48)}.{secrets.token_urlsafe(32)}"


def text_number(value: float, places: int = 2) -> str:
    """A number as SmartAPI's REST books write it: a string, "0" for zero, else fixed decimals."""
    return "0" if value == 0 else f"{value:.{places}f}"


class RateLimiter:
    """Sliding windows per (client code, category); ``check`` raises Angel's 403 when one is full.
    Refused calls do not count."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], deque[float]] = {}
        self.enabled = True

    def check(self, client_code: str, category: str) -> None:
        limits = RATE_LIMITS.get(category)
        if not self.enabled or limits is None:
            return
        now = time.monotonic()
        calls = self.calls.setdefault((client_code, category), deque())
        while calls and now - calls[0] > limits[-1][0]:
            calls.popleft()
        for window, most in limits:
            if sum(1 for t in calls if now - t < window) >= most:
                raise AngelError(403, "", RATE_LIMIT_TEXT, kind="rate")
        calls.append(now)


# -- the scrip master -----------------------------------------------------------------------------
SCRIP_KEYS = ("token", "symbol", "name", "expiry", "strike", "lotsize", "instrumenttype", "exch_seg",
              "tick_size")


def scrip_row(token: str, symbol: str, name: str, exch_seg: str, *, expiry: str = "", strike: float = -1,
              lotsize: int = 1, instrumenttype: str = "", tick_paise: float = 5) -> dict[str, str]:
    """One row of OpenAPIScripMaster.json, in Angel's layout: every value a string, the strike
    and tick size in paise with six decimals ("2400000.000000" is the 24000 strike), -1 for none."""
    return {"token": token, "symbol": symbol, "name": name, "expiry": expiry,
            "strike": "-1.000000" if strike < 0 else f"{strike * 100:.6f}", "lotsize": str(lotsize),
            "instrumenttype": instrumenttype, "exch_seg": exch_seg, "tick_size": f"{tick_paise:.6f}"}


def default_scrips() -> list[dict[str, str]]:
    """The seed: real tokens for the equities (Angel's: INFY 1594, RELIANCE 2885, SBIN 3045, TCS
    11536, BSE INFY 500209); made-up tokens and expiries for the derivatives."""
    rows = [
        scrip_row("1594", "INFY-EQ", "INFY", "NSE", tick_paise=10),
        scrip_row("2885", "RELIANCE-EQ", "RELIANCE", "NSE", tick_paise=10),
        scrip_row("3045", "SBIN-EQ", "SBIN", "NSE", tick_paise=5),
        scrip_row("11536", "TCS-EQ", "TCS", "NSE", tick_paise=10),
        scrip_row("500209", "INFY", "INFY", "BSE", tick_paise=5),
        scrip_row("500325", "RELIANCE", "RELIANCE", "BSE", tick_paise=5),
        scrip_row("99926000", "Nifty 50", "NIFTY", "NSE", instrumenttype="AMXIDX", tick_paise=0),
        scrip_row("35001", "NIFTY30DEC26FUT", "NIFTY", "NFO", expiry="30DEC2026", lotsize=65,
                  instrumenttype="FUTIDX", tick_paise=10),
        scrip_row("35002", "BANKNIFTY30DEC26FUT", "BANKNIFTY", "NFO", expiry="30DEC2026", lotsize=30,
                  instrumenttype="FUTIDX", tick_paise=20),
        scrip_row("36001", "RELIANCE30DEC26FUT", "RELIANCE", "NFO", expiry="30DEC2026", lotsize=500,
                  instrumenttype="FUTSTK", tick_paise=10),
        scrip_row("860001", "SENSEX24DEC2680000CE", "SENSEX", "BFO", expiry="24DEC2026", strike=80000,
                  lotsize=20, instrumenttype="OPTIDX", tick_paise=5),
        scrip_row("470001", "CRUDEOIL19JAN27FUT", "CRUDEOIL", "MCX", expiry="19JAN2027", lotsize=100,
                  instrumenttype="FUTCOM", tick_paise=100),
        scrip_row("1201", "USDINR29DEC26FUT", "USDINR", "CDS", expiry="29DEC2026", lotsize=1000,
                  instrumenttype="FUTCUR", tick_paise=0.25),
    ]
    token = 40000
    for expiry, tag in (("30DEC2026", "30DEC26"), ("08DEC2026", "08DEC26"), ("15DEC2026", "15DEC26"),
                        ("22DEC2026", "22DEC26")):
        strikes = (23500, 24000, 24500) if expiry == "30DEC2026" else (24000,)
        for strike in strikes:
            for kind in ("CE", "PE"):
                token += 1
                rows.append(scrip_row(str(token), f"NIFTY{tag}{strike}{kind}", "NIFTY", "NFO", expiry=expiry,
                                      strike=strike, lotsize=65, instrumenttype="OPTIDX", tick_paise=5))
    return rows


class ScripMaster:
    """The instruments the fake knows, indexed by (exch_seg, symbol)."""

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows: list[dict[str, str]] = []
        self.by_symbol: dict[tuple[str, str], dict[str, str]] = {}
        self.add(rows)

    def add(self, rows: list[dict[str, Any]]) -> int:
        for raw in rows:
            missing = [k for k in SCRIP_KEYS if k not in raw]
            if missing:
                raise ValueError(f"scrip row lacks {missing}")
            row = {k: str(raw[k]) for k in SCRIP_KEYS}
            key = (row["exch_seg"], row["symbol"])
            old = self.by_symbol.get(key)
            if old is not None:
                self.rows.remove(old)
            self.rows.append(row)
            self.by_symbol[key] = row
        return len(rows)

    def find(self, exchange: str, tradingsymbol: str, symboltoken: str) -> dict[str, str]:
        row = self.by_symbol.get((exchange, tradingsymbol))
        if row is None or row["token"] != symboltoken:
            raise AngelError(200, "AB1009", "Symbol Not Found")
        return row


def instrument_details(row: dict[str, str] | None) -> dict[str, Any]:
    """What an order, trade or position row repeats about its instrument (real strike, not paise)."""
    if row is None:
        return {"instrumenttype": "", "strikeprice": -1.0, "optiontype": "", "expirydate": "", "lotsize": 1,
                "symbolname": "", "precision": 2}
    strike = float(row["strike"])
    kind = row["instrumenttype"]
    return {"instrumenttype": kind, "strikeprice": -1.0 if strike < 0 else strike / 100,
            "optiontype": row["symbol"][-2:] if kind.startswith("OPT") else "",
            "expirydate": row["expiry"], "lotsize": int(float(row["lotsize"] or "1")),
            "symbolname": row["name"], "precision": 4 if row["exch_seg"] == "CDS" else 2}


# -- accounts and sessions ------------------------------------------------------------------------
@dataclass
class Credentials:
    api_key: str
    mpin: str
    totp_secret: str


@dataclass
class Session:
    api_key: str
    client_code: str
    jwt: str
    refresh_token: str
    feed_token: str


@dataclass
class Account:
    client_code: str
    cash: float = 1_000_000.0
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)   # internal (native types)
    reject_next: list[str] = field(default_factory=list)        # RMS rejections for the next placements
    # Positions carried from earlier days: (exchange, tradingsymbol, producttype) -> (symboltoken,
    # quantity (+ long, - short), price); shown as cfbuyqty / cfsellqty.
    overnight: dict[tuple[str, str, str], tuple[str, int, float]] = field(default_factory=dict)
    trades_lag: int = 0  # getTradeBook reads still to leave out the latest trade


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    return "" if value is None else str(value).strip()


def _number(params: dict[str, Any], name: str) -> float:
    raw = _text(params, name)
    if raw == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise _invalid(f"Invalid {name}") from None
    if value < 0:
        raise _invalid(f"Invalid {name}")
    return value


def _quantity(params: dict[str, Any], name: str, required: bool = True) -> int:
    raw = _text(params, name)
    if raw == "" and not required:
        return 0
    try:
        value = float(raw)
    except ValueError:
        raise _invalid(f"Invalid {name}") from None
    if not value.is_integer() or value < 0 or (required and value == 0):
        raise _invalid(f"Invalid {name}")
    return int(value)


# Field order of the answers, as the docs list them.
BOOK_KEYS = ("variety", "ordertype", "producttype", "duration", "price", "triggerprice", "quantity",
             "disclosedquantity", "squareoff", "stoploss", "trailingstoploss", "tradingsymbol",
             "transactiontype", "exchange", "symboltoken", "ordertag", "instrumenttype", "strikeprice",
             "optiontype", "expirydate", "lotsize", "cancelsize", "averageprice", "filledshares",
             "unfilledshares", "orderid", "text", "status", "orderstatus", "updatetime", "exchtime",
             "exchorderupdatetime", "fillid", "filltime", "parentorderid", "uniqueorderid", "exchangeorderid")
WS_KEYS = ("variety", "ordertype", "ordertag", "producttype", "price", "triggerprice", "quantity",
           "disclosedquantity", "duration", "squareoff", "stoploss", "trailingstoploss", "tradingsymbol",
           "transactiontype", "exchange", "symboltoken", "instrumenttype", "strikeprice", "optiontype",
           "expirydate", "lotsize", "cancelsize", "averageprice", "filledshares", "unfilledshares", "orderid",
           "text", "status", "orderstatus", "updatetime", "exchtime", "exchorderupdatetime", "fillid",
           "filltime", "parentorderid")
PRICE_KEYS = ("price", "triggerprice", "squareoff", "stoploss", "trailingstoploss", "strikeprice",
              "averageprice")
COUNT_KEYS = ("quantity", "disclosedquantity", "lotsize", "cancelsize", "filledshares", "unfilledshares")


def render_order(order: dict[str, Any], numeric_prices: bool, keys: tuple[str, ...] = BOOK_KEYS) -> dict[str, Any]:
    """An order as an answer shows it. Quantities are strings everywhere; prices are strings in
    getOrderBook (its documented sample: "194.00", "0", "-1") and numbers in the order-update
    socket and the individual-order answer (their samples: 551, 0.0, -1.0)."""
    out: dict[str, Any] = {}
    for key in keys:
        value = order[key]
        if key in PRICE_KEYS:
            if numeric_prices:
                out[key] = float(value)
            else:
                out[key] = "-1" if key == "strikeprice" and value < 0 else text_number(float(value))
        elif key in COUNT_KEYS:
            out[key] = str(int(value))
        else:
            out[key] = value
    return out


def empty_ws_order() -> dict[str, Any]:
    """The orderData of the socket's AB00 greeting, as the docs show it."""
    data: dict[str, Any] = {k: "" for k in WS_KEYS}
    data.update({k: 0 for k in PRICE_KEYS})
    data.update({"quantity": "0", "disclosedquantity": "0", "lotsize": "0", "cancelsize": "0"})
    return data


def ws_message(client_code: str, order_status: str, order_data: dict[str, Any]) -> dict[str, Any]:
    """One order-update message, in the documented envelope."""
    return {"user-id": client_code, "status-code": "200", "order-status": order_status, "error-message": "",
            "orderData": order_data}
