"""The state of the fake Angel One SmartAPI (fake_angel.py serves it over HTTP and the order-update
WebSocket): accounts and sessions (MPIN + TOTP login), each client's orders, trades, positions and
funds, SmartAPI's order validation, its published rate limits, the scrip master, and an exchange
simulator the tests drive (fill, reject, cancel, trigger). Plain Python, no I/O: every change of an
order is handed to ``on_order(client_code, message)`` as the order-update WebSocket's message.

Errors are raised as ``AngelError(http_status, errorcode, message, kind)``; the HTTP layer writes
them in SmartAPI's documented shape ``{"status": false, "message", "errorcode", "data": null}``
(token errors optionally in the gateway's ``{"success": false, "errorCode", ...}`` shape; the rate
limit as Angel's plain-text 403). Which facts come from Angel's documentation and which are this
fake's own choices is listed in fake_angel.py's docstring; the short version for this module:

- From the docs (smartapi.angelbroking.com/docs, mirrored section by section as Markdown):
  the constants (varieties NORMAL/STOPLOSS/ROBO, order types, product types, durations,
  exchanges), the error codes and their texts (AG8001..AB4008 from the "Exceptions" table), the
  rate limits (Rate Limit section), the field names and value spellings of the order book, trade
  book, positions, RMS and profile answers, "IOC orders are not allowed for commodities", the
  order-update codes AB00..AB11, and that an empty book is ``data: null``.
- From Angel's forum (where the docs are silent): AB1050 "Invalid totp" for a wrong TOTP, AG8004
  "Invalid API Key", ``status`` "modified" while ``orderstatus`` keeps the working state after a
  modification, and the plain-text "Access denied because of exceeding access rate" answer.
- This fake's own: every message text not quoted above, AB1004 for validation failures Angel
  documents no code for, the HTTP statuses of REST token errors (borrowed from the order-update
  socket's 401 invalid / 403 expired), AMO refused, no market-price protection, no tick-size or
  margin checks, and the scrip master's made-up tokens for derivatives.
"""
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


class FakeAngel:
    """All of the fake's state. ``on_order(client_code, message)`` is called on every order change
    with the order-update socket's message for it."""

    def __init__(self, on_order: Callable[[str, dict[str, Any]], None]) -> None:
        self.on_order = on_order
        self.credentials: dict[str, Credentials] = {}    # client code -> login credentials
        self.sessions: dict[str, Session] = {}           # jwt -> live session
        self.expired: dict[str, Session] = {}            # jwt -> expired session (AG8002)
        self.refresh: dict[str, Session] = {}            # refresh token -> session it renews
        self.expired_refresh: set[str] = set()           # AB8051
        self.accounts: dict[str, Account] = {}
        self.scrips = ScripMaster(default_scrips())
        self.limiter = RateLimiter()
        self.token_error_shape = "docs"                  # or "gateway"
        self._order_ids = itertools.count(1)
        self._exchange_ids = itertools.count(48358)
        self._fill_ids = itertools.count(50005750)
        self.day = datetime.now(IST).strftime("%y%m%d")

    # -- accounts and sessions --------------------------------------------------------------
    def account(self, client_code: str) -> Account:
        return self.accounts.setdefault(client_code, Account(client_code))

    def add_account(self, api_key: str, client_code: str, mpin: str, totp_secret: str) -> None:
        try:
            totp(totp_secret)
        except (binascii.Error, ValueError):
            raise AngelError(400, "FAKE", f"totp_secret is not base32: {totp_secret!r}") from None
        self.credentials[client_code] = Credentials(api_key, mpin, totp_secret)
        self.account(client_code)

    def add_session(self, api_key: str, client_code: str, jwt: str, feed_token: str = "",
                    refresh_token: str = "") -> Session:
        session = Session(api_key, client_code, jwt, refresh_token or _fake_jwt(), feed_token or _fake_jwt())
        self.sessions[jwt] = session
        self.expired.pop(jwt, None)
        self.refresh[session.refresh_token] = session
        self.expired_refresh.discard(session.refresh_token)
        self.account(client_code)
        return session

    def _token_error(self, status: int, error: tuple[str, str]) -> AngelError:
        return AngelError(status, error[0], error[1], kind="token")

    def login(self, api_key: str | None, params: dict[str, Any]) -> dict[str, Any]:
        """loginByPassword: client code, MPIN (as ``password``) and a TOTP of the previous,
        current or next 30 s step; a new session with new tokens each time."""
        client_code = _text(params, "clientcode")
        credentials = self.credentials.get(client_code)
        if credentials is not None and api_key != credentials.api_key:
            raise AngelError(200, *INVALID_API_KEY)
        if credentials is None or _text(params, "password") != credentials.mpin:
            # The docs' own sample of a failed request.
            raise AngelError(200, "AB1007", "Login Id or password is invalid")
        code = _text(params, "totp")
        if code not in {totp(credentials.totp_secret, step_offset=o) for o in (-1, 0, 1)}:
            raise AngelError(200, "AB1050", "Invalid totp")
        session = self.add_session(credentials.api_key, client_code, _fake_jwt())
        data: dict[str, Any] = {"jwtToken": session.jwt, "refreshToken": session.refresh_token,
                                "feedToken": session.feed_token}
        if params.get("state") is not None:
            data["state"] = params["state"]  # echoed, as the docs say
        return data

    def generate_tokens(self, api_key: str | None, params: dict[str, Any]) -> dict[str, Any]:
        """generateTokens: a refresh token of a session buys a new jwt and feed token (a new live
        session; the old jwt keeps its own state). The refresh token itself stays the same."""
        refresh_token = _text(params, "refreshToken")
        if refresh_token in self.expired_refresh:
            raise AngelError(200, *REFRESH_EXPIRED)
        old = self.refresh.get(refresh_token)
        if old is None:
            raise AngelError(200, *INVALID_REFRESH)
        if api_key != old.api_key:
            raise AngelError(200, *INVALID_API_KEY)
        session = self.add_session(old.api_key, old.client_code, _fake_jwt(), refresh_token=refresh_token)
        return {"jwtToken": session.jwt, "refreshToken": session.refresh_token, "feedToken": session.feed_token}

    def client_for_refresh(self, params: dict[str, Any]) -> str:
        session = self.refresh.get(_text(params, "refreshToken"))
        return session.client_code if session else "?"

    def session_for(self, api_key: str | None, authorization: str | None) -> Session:
        """The session of ``Authorization: Bearer <jwt>``: AG8003 without one, AG8001 for a jwt the
        fake never issued (or logged out), AG8002 for an expired one, AG8004 for another api key."""
        if not authorization:
            raise self._token_error(401, TOKEN_MISSING)
        if not authorization.startswith("Bearer "):
            raise self._token_error(401, INVALID_TOKEN)
        jwt = authorization[len("Bearer "):].strip()
        if jwt in self.expired:
            raise self._token_error(403, TOKEN_EXPIRED)
        session = self.sessions.get(jwt)
        if session is None:
            raise self._token_error(401, INVALID_TOKEN)
        if api_key != session.api_key:
            raise AngelError(401, *INVALID_API_KEY)  # the forum's samples: the documented envelope
        return session

    def ws_session(self, authorization: str) -> tuple[Session | None, int]:
        """For the order-update handshake: the session, or the documented refusal (401 invalid,
        403 expired). The SDK sends the header as given, with or without "Bearer "."""
        jwt = authorization[len("Bearer "):] if authorization.startswith("Bearer ") else authorization
        jwt = jwt.strip()
        if jwt in self.expired:
            return None, 403
        session = self.sessions.get(jwt)
        return (session, 200) if session else (None, 401)

    def logout(self, session: Session) -> list[str]:
        """Ends the session altogether (its jwt is then unknown: AG8001; its refresh token
        AB8050); returns the jwts whose order-update connections must close."""
        self.sessions.pop(session.jwt, None)
        if self.refresh.get(session.refresh_token) is session:
            del self.refresh[session.refresh_token]
        return [session.jwt]

    def expire(self, jwt: str | None, refresh: bool = False) -> list[str]:
        """Expires one session (all without one): its jwt answers AG8002 from then on; with
        ``refresh`` its refresh token AB8051 too (else generateTokens still renews it, as a
        refresh token outlives its jwt). Returns the expired jwts."""
        jwts = [jwt] if jwt else list(self.sessions)
        ended = []
        for token in jwts:
            session = self.sessions.pop(token, None)
            if session is None:
                continue
            self.expired[token] = session
            ended.append(token)
            if refresh:
                self.expired_refresh.add(session.refresh_token)
                self.refresh.pop(session.refresh_token, None)
        return ended

    def profile(self, session: Session) -> dict[str, Any]:
        # The docs print the two lists as strings holding lists (not valid JSON); real lists here.
        return {"clientcode": session.client_code, "name": "FAKE USER",
                "email": f"{session.client_code.lower()}@example.invalid", "mobileno": "",
                "exchanges": list(EXCHANGES), "products": list(PRODUCTS), "lastlogintime": "",
                "brokerid": "B2C"}

    # -- orders -----------------------------------------------------------------------------
    def _check_product(self, exchange: str, product: str) -> None:
        if product == "BO":
            raise AngelError(200, "AB1012", "Invalid Product Type: BO is only for ROBO orders")
        if product not in PRODUCTS:
            raise AngelError(200, "AB1012", "Invalid Product Type")
        if product in ("DELIVERY", "MARGIN") and exchange not in EQUITY_EXCHANGES:
            raise AngelError(200, "AB1012", f"Invalid Product Type: {product} is not allowed on {exchange}")
        if product == "CARRYFORWARD" and exchange in EQUITY_EXCHANGES:
            raise AngelError(200, "AB1012", f"Invalid Product Type: CARRYFORWARD is not allowed on {exchange}")

    def _check_variety(self, variety: str, order_type: str) -> None:
        if variety == "ROBO":
            raise AngelError(200, "AB2002", "ROBO order is block")
        if variety not in VARIETIES:
            raise AngelError(200, "AB1008", "Invalid Order Variety")
        if order_type not in ORDER_TYPES:
            raise _invalid("Invalid ordertype")
        if (variety == "STOPLOSS") != (order_type in STOPLOSS_TYPES):
            raise AngelError(200, "AB1008", f"Invalid Order Variety: {order_type} orders need variety "
                             f"{'STOPLOSS' if order_type in STOPLOSS_TYPES else 'NORMAL'}")

    def _check_prices(self, order_type: str, price: float, trigger: float) -> None:
        if order_type in PRICED_TYPES and price <= 0:
            raise _invalid(f"Invalid price: {order_type} orders need a price")
        if order_type in STOPLOSS_TYPES and trigger <= 0:
            raise _invalid(f"Invalid triggerprice: {order_type} orders need a trigger price")

    def _check_quantity(self, exchange: str, lotsize: int, quantity: int, disclosed: int) -> None:
        if exchange in LOT_EXCHANGES and lotsize > 1 and quantity % lotsize:
            raise _invalid(f"Invalid quantity: must be a multiple of the lot size {lotsize}")
        if disclosed > quantity:
            raise _invalid("Invalid disclosedquantity")

    def place(self, client_code: str, params: dict[str, Any]) -> dict[str, Any]:
        variety, order_type = _text(params, "variety"), _text(params, "ordertype")
        self._check_variety(variety, order_type)
        exchange = _text(params, "exchange")
        if exchange not in EXCHANGES:
            raise _invalid("Invalid exchange")
        product = _text(params, "producttype")
        self._check_product(exchange, product)
        row = self.scrips.find(exchange, _text(params, "tradingsymbol"), _text(params, "symboltoken"))
        if row["instrumenttype"] == "AMXIDX":
            raise _invalid("Invalid symbol: an index cannot be traded")
        side = _text(params, "transactiontype")
        if side not in ("BUY", "SELL"):
            raise _invalid("Invalid transactiontype")
        duration = _text(params, "duration") or "DAY"
        if duration not in DURATIONS:
            raise _invalid("Invalid duration")
        if duration == "IOC" and exchange == "MCX":
            raise _invalid("IOC orders are not allowed for commodities segment")
        quantity = _quantity(params, "quantity")
        disclosed = _quantity(params, "disclosedquantity", required=False)
        price, trigger = _number(params, "price"), _number(params, "triggerprice")
        self._check_prices(order_type, price, trigger)
        details = instrument_details(row)
        self._check_quantity(exchange, details["lotsize"], quantity, disclosed)
        tag = _text(params, "ordertag")
        if len(tag) > 20:  # the docs say "less than 20"; 20 itself is accepted here (ambiguous)
            raise AngelError(200, "AB4008", "ordertag length should be less than 20 characters")
        account = self.account(client_code)
        order_id = f"{self.day}{next(self._order_ids):09d}"
        order: dict[str, Any] = {
            "variety": variety, "ordertype": order_type, "producttype": product, "duration": duration,
            "price": price if order_type in PRICED_TYPES else 0.0,
            "triggerprice": trigger if order_type in STOPLOSS_TYPES else 0.0,
            "quantity": quantity, "disclosedquantity": disclosed,
            "squareoff": 0.0, "stoploss": 0.0, "trailingstoploss": 0.0,
            "tradingsymbol": row["symbol"], "transactiontype": side, "exchange": exchange,
            "symboltoken": row["token"], "ordertag": tag, "instrumenttype": details["instrumenttype"],
            "strikeprice": details["strikeprice"], "optiontype": details["optiontype"],
            "expirydate": details["expirydate"], "lotsize": details["lotsize"], "cancelsize": 0,
            "averageprice": 0.0, "filledshares": 0, "unfilledshares": quantity, "orderid": order_id,
            "text": "", "status": "", "orderstatus": "", "updatetime": "", "exchtime": "",
            "exchorderupdatetime": "", "fillid": "", "filltime": "", "parentorderid": "",
            "uniqueorderid": str(uuid.uuid4()), "exchangeorderid": "",
            "client_code": client_code, "symbolgroup": "EQ" if exchange in EQUITY_EXCHANGES else "",
            "precision": details["precision"], "symbolname": details["symbolname"],
        }
        account.orders[order_id] = order
        self._change(account, order, status="open pending")
        if account.reject_next:
            self._change(account, order, status="rejected", text=account.reject_next.pop(0))
        else:
            now = angel_time()
            self._change(account, order, status="trigger pending" if order_type in STOPLOSS_TYPES else "open",
                         exchangeorderid=f"11{next(self._exchange_ids):014d}", exchtime=now,
                         exchorderupdatetime=now)
        return {"script": order["tradingsymbol"], "orderid": order_id, "uniqueorderid": order["uniqueorderid"]}

    def order(self, client_code: str, order_id: str) -> dict[str, Any]:
        order = self.account(client_code).orders.get(order_id)
        if order is None:
            raise AngelError(200, "AB1013", "Order not found")
        return order

    def _working(self, order: dict[str, Any], action: str) -> None:
        if order["orderstatus"] not in WORKING:
            raise _invalid(f"Order cannot be {action} as it is {order['orderstatus']}")

    def modify(self, client_code: str, params: dict[str, Any]) -> dict[str, Any]:
        order = self.order(client_code, _text(params, "orderid"))
        variety = _text(params, "variety")
        if variety != order["variety"]:
            raise AngelError(200, "AB1008", "Invalid Order Variety")
        self._working(order, "modified")
        for name in ("exchange", "tradingsymbol", "symboltoken"):
            if _text(params, name) and _text(params, name) != order[name]:
                raise AngelError(200, "AB1009", "Symbol Not Found")
        product = _text(params, "producttype") or order["producttype"]
        if product != order["producttype"]:
            raise AngelError(200, "AB1012", "Invalid Product Type: the product of an order cannot be modified")
        order_type = _text(params, "ordertype") or order["ordertype"]
        self._check_variety(variety, order_type)
        duration = _text(params, "duration") or order["duration"]
        if duration not in DURATIONS:
            raise _invalid("Invalid duration")
        quantity = _quantity(params, "quantity") if _text(params, "quantity") else order["quantity"]
        if quantity < order["filledshares"] or quantity == 0:
            raise _invalid("Invalid quantity: less than the filled quantity")
        self._check_quantity(order["exchange"], order["lotsize"], quantity, order["disclosedquantity"])
        price = _number(params, "price") if _text(params, "price") else order["price"]
        trigger = _number(params, "triggerprice") if _text(params, "triggerprice") else order["triggerprice"]
        self._check_prices(order_type, price, trigger)
        account = self.account(client_code)
        working = order["orderstatus"]
        self._change(account, order, status="modify pending")
        self._change(account, order, status="modified", orderstatus=working, ordertype=order_type,
                     duration=duration, quantity=quantity, unfilledshares=quantity - order["filledshares"],
                     price=price if order_type in PRICED_TYPES else 0.0,
                     triggerprice=trigger if order_type in STOPLOSS_TYPES else 0.0,
                     exchorderupdatetime=angel_time())
        if order["filledshares"] == quantity:
            self._change(account, order, status="complete")
        return {"orderid": order["orderid"], "uniqueorderid": order["uniqueorderid"]}

    def cancel(self, client_code: str, params: dict[str, Any]) -> dict[str, Any]:
        order = self.order(client_code, _text(params, "orderid"))
        if _text(params, "variety") != order["variety"]:
            raise AngelError(200, "AB1008", "Invalid Order Variety")
        self._working(order, "cancelled")
        # The docs' cancelled order shows an empty text: a user's cancel gives no reason.
        self._change(self.account(client_code), order, status="cancelled", text="",
                     cancelsize=order["quantity"] - order["filledshares"], exchorderupdatetime=angel_time())
        return {"orderid": order["orderid"], "uniqueorderid": order["uniqueorderid"]}

    def order_book(self, client_code: str) -> list[dict[str, Any]] | None:
        rows = [render_order(o, numeric_prices=False) for o in self.account(client_code).orders.values()]
        return rows or None  # Angel answers an empty book with data: null

    def order_details(self, client_code: str, unique_order_id: str) -> dict[str, Any]:
        for order in self.account(client_code).orders.values():
            if order["uniqueorderid"] == unique_order_id:
                return render_order(order, numeric_prices=True)
        raise AngelError(200, "AB1013", "Order not found")

    def _change(self, account: Account, order: dict[str, Any], **changes: Any) -> None:
        if "status" in changes and "orderstatus" not in changes:
            changes["orderstatus"] = changes["status"]
        order.update(changes)
        order["updatetime"] = angel_time()
        code = ORDER_STATUS_CODES.get(order["status"], "AB01")
        self.on_order(account.client_code,
                      ws_message(account.client_code, code, render_order(order, True, WS_KEYS)))

    # -- the exchange simulator (the tests' /_fake/ commands) -------------------------------
    def _find(self, order_id: str) -> tuple[Account, dict[str, Any]]:
        for account in self.accounts.values():
            if order_id in account.orders:
                return account, account.orders[order_id]
        raise AngelError(404, "FAKE", f"no order {order_id}")

    def fill(self, order_id: str, quantity: int | None = None, price: float | None = None) -> dict[str, Any]:
        """An execution: all of the unfilled quantity by default, at the order's price (its
        trigger price for a stop-loss market order) by default; a market order needs ``price``."""
        account, order = self._find(order_id)
        if order["orderstatus"] not in WORKING:
            raise AngelError(409, "FAKE", f"order {order_id} is {order['orderstatus']}")
        pending = order["quantity"] - order["filledshares"]
        quantity = pending if quantity is None else quantity
        if not 0 < quantity <= pending:
            raise AngelError(400, "FAKE", f"fill quantity {quantity} not in 1..{pending}")
        price = price if price is not None else (order["price"] or order["triggerprice"])
        if not price or price <= 0:
            raise AngelError(400, "FAKE", "a price is needed to fill this order")
        if order["orderstatus"] == "trigger pending":
            self._change(account, order, status="open")
        now = datetime.now(IST)
        trade: dict[str, Any] = {
            "exchange": order["exchange"], "producttype": order["producttype"],
            "tradingsymbol": order["tradingsymbol"], "symboltoken": order["symboltoken"],
            "instrumenttype": order["instrumenttype"], "symbolgroup": order["symbolgroup"],
            "strikeprice": order["strikeprice"], "optiontype": order["optiontype"],
            "expirydate": order["expirydate"], "marketlot": order["lotsize"], "precision": order["precision"],
            "multiplier": -1, "tradevalue": price * quantity, "transactiontype": order["transactiontype"],
            "fillprice": price, "fillsize": quantity, "orderid": order_id,
            "fillid": str(next(self._fill_ids)), "filltime": now.strftime("%H:%M:%S"),
            "symbolname": order["symbolname"],
        }
        account.trades.append(trade)
        filled = order["filledshares"] + quantity
        average = (order["averageprice"] * order["filledshares"] + price * quantity) / filled
        self._change(account, order, filledshares=filled, unfilledshares=order["quantity"] - filled,
                     averageprice=round(average, 4), fillid=trade["fillid"], filltime=trade["filltime"],
                     status="complete" if filled == order["quantity"] else "open",
                     exchorderupdatetime=angel_time(now))
        return trade_row(trade)

    def reject(self, order_id: str, reason: str) -> None:
        account, order = self._find(order_id)
        if order["orderstatus"] not in WORKING:
            raise AngelError(409, "FAKE", f"order {order_id} is {order['orderstatus']}")
        self._change(account, order, status="rejected", text=reason)

    def exchange_cancel(self, order_id: str, reason: str) -> None:
        account, order = self._find(order_id)
        if order["orderstatus"] not in WORKING:
            raise AngelError(409, "FAKE", f"order {order_id} is {order['orderstatus']}")
        self._change(account, order, status="cancelled", text=reason,
                     cancelsize=order["quantity"] - order["filledshares"], exchorderupdatetime=angel_time())

    def trigger(self, order_id: str) -> None:
        account, order = self._find(order_id)
        if order["orderstatus"] != "trigger pending":
            raise AngelError(409, "FAKE", f"order {order_id} is {order['orderstatus']}")
        self._change(account, order, status="open", exchorderupdatetime=angel_time())

    # -- books and portfolio ----------------------------------------------------------------
    def trade_book(self, client_code: str) -> list[dict[str, Any]] | None:
        account = self.account(client_code)
        trades = account.trades
        if account.trades_lag > 0:  # the trade book behind the order book, for a read
            account.trades_lag -= 1
            trades = trades[:-1]
        return [trade_row(t) for t in trades] or None

    def positions(self, client_code: str) -> list[dict[str, Any]] | None:
        """One row per (exchange, tradingsymbol, producttype): today's buys and sells (buyqty,
        sellqty, ...), what earlier days carried (cfbuyqty / cfsellqty), and the totals and net
        over both (netqty = buyqty + cfbuyqty - sellqty - cfsellqty)."""
        account = self.account(client_code)
        sums: dict[tuple[str, str, str], dict[str, Any]] = {}

        def entry(key: tuple[str, str, str], token: str, details: dict[str, Any]) -> dict[str, Any]:
            return sums.setdefault(key, {"token": token, "details": details, "buyqty": 0, "sellqty": 0,
                                         "buyamount": 0.0, "sellamount": 0.0, "cfbuyqty": 0, "cfsellqty": 0,
                                         "cfbuyamount": 0.0, "cfsellamount": 0.0})

        for trade in account.trades:
            key = (trade["exchange"], trade["tradingsymbol"], trade["producttype"])
            s = entry(key, trade["symboltoken"], {k: trade[k] for k in ("instrumenttype", "strikeprice", "optiontype",
                                                                       "expirydate", "symbolname", "precision",
                                                                       "symbolgroup")} | {"lotsize": trade["marketlot"]})
            side = "buy" if trade["transactiontype"] == "BUY" else "sell"
            s[f"{side}qty"] += trade["fillsize"]
            s[f"{side}amount"] += trade["fillsize"] * trade["fillprice"]
        for key, (token, quantity, price) in account.overnight.items():
            row = self.scrips.by_symbol.get((key[0], key[1]))
            details = instrument_details(row)
            details["symbolgroup"] = "EQ" if key[0] in EQUITY_EXCHANGES else ""
            s = entry(key, token, details)
            side = "cfbuy" if quantity > 0 else "cfsell"
            s[f"{side}qty"] += abs(quantity)
            s[f"{side}amount"] += abs(quantity) * price
        rows = []
        for (exchange, symbol, product), s in sums.items():
            d = s["details"]
            places = int(d["precision"])

            def avg(amount: float, qty: int) -> float:
                return amount / qty if qty else 0.0

            buys, sells = s["buyqty"] + s["cfbuyqty"], s["sellqty"] + s["cfsellqty"]
            buy_value, sell_value = s["buyamount"] + s["cfbuyamount"], s["sellamount"] + s["cfsellamount"]
            net = buys - sells
            net_price = avg(buy_value, buys) if net > 0 else avg(sell_value, sells) if net < 0 else 0.0

            def n(value: float) -> str:
                return text_number(value, places)

            rows.append({
                "exchange": exchange, "symboltoken": s["token"], "producttype": product, "tradingsymbol": symbol,
                "symbolname": d["symbolname"], "instrumenttype": d["instrumenttype"], "priceden": "1",
                "pricenum": "1", "genden": "1", "gennum": "1", "precision": str(places), "multiplier": "-1",
                "boardlotsize": "1", "buyqty": str(s["buyqty"]), "sellqty": str(s["sellqty"]),
                "buyamount": n(s["buyamount"]), "sellamount": n(s["sellamount"]), "symbolgroup": d["symbolgroup"],
                "strikeprice": "-1" if d["strikeprice"] < 0 else n(d["strikeprice"]), "optiontype": d["optiontype"],
                "expirydate": d["expirydate"], "lotsize": str(d["lotsize"]), "cfbuyqty": str(s["cfbuyqty"]),
                "cfsellqty": str(s["cfsellqty"]), "cfbuyamount": n(s["cfbuyamount"]),
                "cfsellamount": n(s["cfsellamount"]), "buyavgprice": n(avg(s["buyamount"], s["buyqty"])),
                "sellavgprice": n(avg(s["sellamount"], s["sellqty"])), "avgnetprice": n(net_price),
                "netvalue": n(sell_value - buy_value), "netqty": str(net), "totalbuyvalue": n(buy_value),
                "totalsellvalue": n(sell_value), "cfbuyavgprice": n(avg(s["cfbuyamount"], s["cfbuyqty"])),
                "cfsellavgprice": n(avg(s["cfsellamount"], s["cfsellqty"])),
                "totalbuyavgprice": n(avg(buy_value, buys)), "totalsellavgprice": n(avg(sell_value, sells)),
                "netprice": n(net_price),
            })
        return rows or None

    def rms(self, client_code: str) -> dict[str, str]:
        """getRMS, every value a string as documented; the fake keeps no margin, so only the cash
        set by the funds control moves."""
        cash = text_number(self.account(client_code).cash)
        zero = "0"
        return {"net": cash, "availablecash": cash, "availableintradaypayin": zero, "availablelimitmargin": zero,
                "collateral": zero, "m2munrealized": zero, "m2mrealized": zero, "utiliseddebits": zero,
                "utilisedspan": zero, "utilisedoptionpremium": zero, "utilisedholdingsales": zero,
                "utilisedexposure": zero, "utilisedturnover": zero, "utilisedpayout": zero}


TRADE_KEYS = ("exchange", "producttype", "tradingsymbol", "instrumenttype", "symbolgroup", "strikeprice",
              "optiontype", "expirydate", "marketlot", "precision", "multiplier", "tradevalue", "transactiontype",
              "fillprice", "fillsize", "orderid", "fillid", "filltime")


def trade_row(trade: dict[str, Any]) -> dict[str, str]:
    """A trade as getTradeBook shows it: every value a string, fill time HH:MM:SS (docs)."""
    places = int(trade["precision"])
    return {"exchange": trade["exchange"], "producttype": trade["producttype"],
            "tradingsymbol": trade["tradingsymbol"], "instrumenttype": trade["instrumenttype"],
            "symbolgroup": trade["symbolgroup"],
            "strikeprice": "-1" if trade["strikeprice"] < 0 else text_number(trade["strikeprice"], places),
            "optiontype": trade["optiontype"], "expirydate": trade["expirydate"], "marketlot": str(trade["marketlot"]),
            "precision": str(places), "multiplier": str(trade["multiplier"]),
            "tradevalue": f"{trade['tradevalue']:.{places}f}", "transactiontype": trade["transactiontype"],
            "fillprice": f"{trade['fillprice']:.{places}f}", "fillsize": str(trade["fillsize"]),
            "orderid": trade["orderid"], "fillid": trade["fillid"], "filltime": trade["filltime"]}
