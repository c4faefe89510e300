"""The market-data half of the fake Angel One SmartAPI (fake_angel.py serves it at /smart-stream):
SmartStream, "WebSocket Streaming 2.0", as Angel's documentation gives it and the official SDK's
``SmartApi.smartWebSocketV2.SmartWebSocketV2`` (smartapi-python 1.5.5) speaks it.

- Handshake: headers ``Authorization`` (the jwt, with or without "Bearer "; the SDK sends its
  ``auth_token`` as given), ``x-api-key``, ``x-client-code``, ``x-feed-token``; or, as the docs
  allow browsers, ``?clientCode=&feedToken=&apiKey=`` (no jwt). Each must belong to one live
  session (the feed token to a live session of that client code), else HTTP 401 with an
  ``x-error-message`` header ("Invalid Header - Invalid Auth token" / "... Invalid Client Code"
  / "... Invalid API Key" / "... Invalid Feed Token"). An expired jwt or feed token (after
  /_fake/expire) is refused with 403 by default (``/_fake/stream/expired_status`` makes it 401).
  A 4th open connection of a client code is refused with 429.
- Text requests ``{"correlationID"?, "action": 1|0, "params": {"mode": 1|2|3, "tokenList":
  [{"exchangeType": n, "tokens": ["1594", ...]}]}}``. A subscription is one (mode, exchange type,
  token); a token in two modes is two subscriptions and gets a packet in each mode; duplicates
  are ignored and not counted. At most 1000 per connection: a subscribe that would pass it
  subscribes nothing and is answered ``{"correlationID", "errorCode": "E1002", "errorMessage":
  "Invalid Request. Subscription Limit Exceeded."}``; a malformed request (not JSON, action or
  mode out of range, mode 4 (20-depth, not simulated), tokens not a list) gets E1001 "Invalid
  Request Payload.". Unsubscribing what is not subscribed is ignored; an unknown exchange type is
  accepted and never ticks. Text "ping" is answered "pong"; WebSocket pings are ponged.
- Binary ticks, one packet per message, little-endian (offsets): subscription mode B (0),
  exchange type B (1), token 25 bytes NUL-padded (2), sequence number q (27), exchange
  timestamp q epoch ms (35), last traded price q (43) -- LTP ends at 51; last traded quantity q
  (51), average traded price q (59), volume q (67), total buy quantity d (75), total sell
  quantity d (83), open q (91), high q (99), low q (107), close q (115) -- QUOTE ends at 123;
  last traded timestamp q (123), open interest q (131), open interest change % d (139), best
  five at 147: five buy levels then five sell levels, 20 bytes each (flag H: 1 buy, 0 sell;
  quantity q; price q; orders H), upper circuit q (347), lower circuit q (355), 52-week high q
  (363), 52-week low q (371) -- SNAP_QUOTE ends at 379. Prices are integers: rupees x 100, for
  CDE_FO (13) x 10^7. Missing depth levels are sent as zeros with their side's flag.
- On command: a forced disconnect (TCP abort or a close frame) and a silent stall (nothing sent,
  no pongs of either kind, the socket left open).

Where the facts come from. Angel's WebSocket 2.0 docs (smartapi.angelone.in/docs, section
"WebSocket Streaming 2.0", read from a copy of the page): the URL, the four mandatory headers,
the browser query parameters, 401 with ``x-error-message`` and its four texts, the ping/pong
heartbeat, the request contract, modes 1-3, exchange types 1-5, a subscription counted per token
and mode with duplicates ignored and one tick per mode, the whole byte layout and packet ends
(51/123/379), little-endian, prices in paise and /10^7 for currencies, the buy-five-then-
sell-five order with flag 1 buy / 0 sell, OI change % a double "dummy field", the error
response shape and E1001/E1002 (texts as the error table prints them, final period included).
Angel's forum (admin and moderator answers): 3 connections per
client code, 1000 tokens per connection, unsubscribing the unsubscribed ignored, a failed request
not affecting existing subscriptions; users' reports: 429 Too Many Requests on a handshake, an
invalid exchange type silently ignored. The SDK: exchange types 7 NCX_FO and 13 CDE_FO, the
Authorization header sent as given, q for the LTP field (the docs print int32, size 8). The
fake's own choices: 403 for expired credentials (the order-status socket's docs; the stream's
docs list only 401), refusing the 4th handshake (the forum also says the extra connection is
closed), an over-limit subscribe refused whole, tokens sent as JSON numbers accepted as strings,
the expired session's open connections closed (code 1000), sequence numbers per exchange type and
token counting up from 1 (index feeds' "not available" sequence not simulated), the last traded
timestamp in epoch seconds (default: the exchange timestamp's second), no idle timeout.
"""
from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny

from fake_angel_exchange import FakeAngel
from fake_angel_model import Session

MAX_SUBSCRIPTIONS = 1000  # per connection (docs: per session; forum: per connection)
MAX_CONNECTIONS = 3       # per client code
LTP, QUOTE, SNAP_QUOTE, DEPTH = 1, 2, 3, 4
MODES = (LTP, QUOTE, SNAP_QUOTE)
PACKET_SIZES = {LTP: 51, QUOTE: 123, SNAP_QUOTE: 379}
EXCHANGE_TYPES = {1: "NSE_CM", 2: "NSE_FO", 3: "BSE_CM", 4: "BSE_FO", 5: "MCX_FO", 7: "NCX_FO", 13: "CDE_FO"}
CDE_FO = 13
BUY_FLAG, SELL_FLAG = 1, 0
INVALID_PAYLOAD = ("E1001", "Invalid Request Payload.")
LIMIT_EXCEEDED = ("E1002", "Invalid Request. Subscription Limit Exceeded.")
INVALID_AUTH = "Invalid Header - Invalid Auth token"
INVALID_CLIENT = "Invalid Header - Invalid Client Code"
INVALID_API_KEY = "Invalid Header - Invalid API Key"
INVALID_FEED = "Invalid Header - Invalid Feed Token"
REASONS = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests"}


def price_unit(exchange_type: int) -> int:
    """What one rupee is in a packet's price fields."""
    return 10_000_000 if exchange_type == CDE_FO else 100


Level = tuple[int, float, int]  # (quantity, price in rupees, orders)


@dataclass
class StreamTick:
    """One instrument's state as /_fake/stream/ticks gives it (prices in rupees)."""

    exchange_type: int
    token: str
    ltp: float
    volume: int = 0
    last_traded_quantity: int = 0
    average_traded_price: float = 0.0
    total_buy_quantity: float = 0.0
    total_sell_quantity: float = 0.0
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    close: float = 0.0
    exchange_timestamp_ms: int | None = None   # default: now
    last_traded_timestamp: int | None = None   # epoch s; default: the exchange timestamp's second
    sequence_number: int | None = None         # default: the token's previous one + 1
    oi: int = 0
    oi_change_percentage: float = 0.0
    bid: float | None = None                   # shorthand for bids = [(bid_qty, bid, 1)]
    bid_qty: int = 0
    ask: float | None = None
    ask_qty: int = 0
    bids: list[Level] = field(default_factory=list)  # best first, at most 5
    asks: list[Level] = field(default_factory=list)
    upper_circuit: float = 0.0
    lower_circuit: float = 0.0
    week52_high: float = 0.0
    week52_low: float = 0.0

    @staticmethod
    def from_json(value: dict[str, Any]) -> "StreamTick":
        names = {f.name for f in fields(StreamTick)}
        unknown = set(value) - names
        if unknown:
            raise ValueError(f"unknown tick fields: {sorted(unknown)}")
        tick = StreamTick(**value)
        tick.exchange_type, tick.token, tick.ltp = int(tick.exchange_type), str(tick.token), float(tick.ltp)
        if not 0 < len(tick.token.encode("utf-8")) <= 25:
            raise ValueError(f"a token is 1 to 25 bytes: {tick.token!r}")
        tick.bids = [(int(q), float(p), int(o)) for q, p, o in tick.bids]
        tick.asks = [(int(q), float(p), int(o)) for q, p, o in tick.asks]
        if tick.bid is not None and not tick.bids:
            tick.bids = [(tick.bid_qty, float(tick.bid), 1)]
        if tick.ask is not None and not tick.asks:
            tick.asks = [(tick.ask_qty, float(tick.ask), 1)]
        if len(tick.bids) > 5 or len(tick.asks) > 5:
            raise ValueError("at most 5 levels a side")
        return tick


def pack_tick(tick: StreamTick, mode: int, sequence: int, timestamp_ms: int) -> bytes:
    """The packet of ``tick`` in ``mode``, as the docs lay it out."""
    unit = price_unit(tick.exchange_type)

    def p(price: float) -> int:
        return int(round(price * unit))

    out = struct.pack("<BB25sqqq", mode, tick.exchange_type, tick.token.encode("utf-8"), sequence,
                      timestamp_ms, p(tick.ltp))
    if mode in (QUOTE, SNAP_QUOTE):
        out += struct.pack("<qqqddqqqq", tick.last_traded_quantity, p(tick.average_traded_price), tick.volume,
                           tick.total_buy_quantity, tick.total_sell_quantity, p(tick.open), p(tick.high),
                           p(tick.low), p(tick.close))
    if mode == SNAP_QUOTE:
        traded = tick.last_traded_timestamp if tick.last_traded_timestamp is not None else timestamp_ms // 1000
        out += struct.pack("<qqd", traded, tick.oi, tick.oi_change_percentage)
        for flag, side in ((BUY_FLAG, tick.bids), (SELL_FLAG, tick.asks)):
            for quantity, price, orders in side + [(0, 0.0, 0)] * (5 - len(side)):
                out += struct.pack("<HqqH", flag, quantity, p(price), orders)
        out += struct.pack("<qqqq", p(tick.upper_circuit), p(tick.lower_circuit), p(tick.week52_high),
                           p(tick.week52_low))
    assert len(out) == PACKET_SIZES[mode], (mode, len(out))
    return out


def stream_session(angel: FakeAngel, headers: dict[str, str], params: dict[str, list[str]],
                   expired_status: int) -> tuple[Session | None, int, str]:
    """Checks a handshake's credentials against the fake's sessions: (the session whose feed
    token it is, 200, "") or (None, 401 | expired_status, the x-error-message)."""
    names = ("authorization", "x-api-key", "x-client-code", "x-feed-token")
    by_query = not any(headers.get(n) for n in names) and "clientCode" in params

    def query(name: str) -> str:
        return (params.get(name) or [""])[0].strip()

    if by_query:
        client, api_key, feed = query("clientCode"), query("apiKey"), query("feedToken")
        known = {s.client_code for s in [*angel.sessions.values(), *angel.expired.values()]}
        if client not in known:
            return None, 401, INVALID_CLIENT
    else:
        authorization = headers.get("authorization", "").strip()
        jwt = authorization[len("Bearer "):].strip() if authorization.startswith("Bearer ") else authorization
        if jwt in angel.expired:
            return None, expired_status, INVALID_AUTH
        owner = angel.sessions.get(jwt) if jwt else None
        if owner is None:
            return None, 401, INVALID_AUTH
        client, api_key = headers.get("x-client-code", "").strip(), headers.get("x-api-key", "").strip()
        feed = headers.get("x-feed-token", "").strip()
        if client != owner.client_code:
            return None, 401, INVALID_CLIENT
        if api_key != owner.api_key:
            return None, 401, INVALID_API_KEY
    session = next((s for s in angel.sessions.values() if s.feed_token == feed and s.client_code == client), None)
    if session is None:
        expired = bool(feed) and any(s.feed_token == feed and s.client_code == client for s in angel.expired.values())
        return None, (expired_status if expired else 401), INVALID_FEED
    if api_key != session.api_key:
        return None, 401, INVALID_API_KEY
    return session, 200, ""


class StreamProtocol(WebSocketServerProtocol):  # type: ignore[misc]
    """One SmartStream connection."""

    hub: "StreamHub"

    def __init__(self) -> None:
        super().__init__()
        self.session: Session | None = None
        self.jwt = ""          # the Authorization header's (empty for the browser query form)
        self.bearer = False
        self.api_key = ""
        self.stalled = False
        self.error_message = ""
        self.subscriptions: dict[int, set[tuple[int, str]]] = {mode: set() for mode in MODES}

    @property
    def client_code(self) -> str:
        return self.session.client_code if self.session else ""

    def onConnect(self, request: Any) -> None:  # noqa: N802 (autobahn's names)
        headers: dict[str, str] = request.headers
        session, status, message = self.hub.authenticate(headers, request.params)
        client = session.client_code if session else (headers.get("x-client-code", "")
                                                      or (request.params.get("clientCode") or [""])[0])
        if session is not None and sum(1 for c in self.hub.connections if c.client_code == client) >= MAX_CONNECTIONS:
            status, message = 429, "Connection limit exceeded"
        self.hub.handshakes.append({"client_code": client, "status": status, "error_message": message})
        if status != 200:
            self.error_message = message
            raise ConnectionDeny(status, REASONS.get(status, "Refused"))
        authorization = headers.get("authorization", "").strip()
        self.session, self.bearer = session, authorization.startswith("Bearer ")
        self.jwt = authorization[len("Bearer "):].strip() if self.bearer else authorization
        self.api_key = headers.get("x-api-key", "") or (request.params.get("apiKey") or [""])[0]

    def failHandshake(self, reason: str, code: int = 400, responseHeaders: Any = None) -> None:  # noqa: N802,N803
        headers = list(responseHeaders or [])
        if self.error_message:
            headers.append(("x-error-message", self.error_message))
        super().failHandshake(reason, code, headers)

    def onOpen(self) -> None:  # noqa: N802
        self.hub.connections.append(self)

    def onClose(self, was_clean: bool, code: int | None, reason: str | None) -> None:  # noqa: N802
        if self in self.hub.connections:
            self.hub.connections.remove(self)

    def onPing(self, payload: bytes) -> None:  # noqa: N802
        if not self.stalled:  # a stalled server answers nothing, not even pings
            self.sendPong(payload)

    def onMessage(self, payload: bytes, is_binary: bool) -> None:  # noqa: N802
        text = payload.decode("utf-8", errors="replace")
        record: dict[str, Any] = {"client_code": self.client_code, "text": text, "request": None}
        self.hub.requests.append(record)
        if not is_binary and text.strip() == "ping":
            if not self.stalled:
                self.sendMessage(b"pong", isBinary=False)
            return
        try:
            request = json.loads(text)
        except ValueError:
            request = None
        record["request"] = request
        correlation = request.get("correlationID", "") if isinstance(request, dict) else ""
        error = INVALID_PAYLOAD if is_binary else self.apply(request)
        if error is not None:
            self.send_text({"correlationID": correlation, "errorCode": error[0], "errorMessage": error[1]})

    def apply(self, request: Any) -> tuple[str, str] | None:
        """Carries out a subscribe or unsubscribe; the documented error for one it refuses."""
        if not isinstance(request, dict) or not isinstance(request.get("params"), dict):
            return INVALID_PAYLOAD
        action, params = request.get("action"), request["params"]
        mode, token_list = params.get("mode"), params.get("tokenList")
        if action not in (0, 1) or mode not in MODES or not isinstance(token_list, list):
            return INVALID_PAYLOAD
        wanted: set[tuple[int, str]] = set()
        for entry in token_list:
            if not isinstance(entry, dict) or not isinstance(entry.get("tokens"), list):
                return INVALID_PAYLOAD
            try:
                exchange_type = int(entry["exchangeType"])
            except (KeyError, TypeError, ValueError):
                return INVALID_PAYLOAD
            if not all(isinstance(t, (str, int)) and not isinstance(t, bool) for t in entry["tokens"]):
                return INVALID_PAYLOAD
            wanted.update((exchange_type, str(t)) for t in entry["tokens"])
        if action == 0:
            self.subscriptions[mode] -= wanted
            return None
        new = wanted - self.subscriptions[mode]
        if sum(len(s) for s in self.subscriptions.values()) + len(new) > MAX_SUBSCRIPTIONS:
            return LIMIT_EXCEEDED
        self.subscriptions[mode] |= new
        return None

    def send_text(self, message: dict[str, Any]) -> None:
        if not self.stalled:
            self.sendMessage(json.dumps(message).encode("utf-8"), isBinary=False)

    def describe(self) -> dict[str, Any]:  # (not "state": autobahn's protocol state)
        by_exchange: dict[str, dict[str, list[str]]] = {}
        for mode, subscribed in self.subscriptions.items():
            for exchange_type, token in subscribed:
                by_exchange.setdefault(str(mode), {}).setdefault(str(exchange_type), []).append(token)
        return {"client_code": self.client_code, "api_key": self.api_key, "jwt": self.jwt, "bearer": self.bearer,
                "feed_token": self.session.feed_token if self.session else "", "stalled": self.stalled,
                "subscriptions": {m: sorted({t for ts in e.values() for t in ts}) for m, e in by_exchange.items()},
                "exchange_subscriptions": {m: {x: sorted(ts) for x, ts in e.items()} for m, e in by_exchange.items()}}


class StreamHub:
    """The fake's SmartStream connections: publishing ticks, and the drop / stall commands.
    ``authenticate(headers, query params, expired_status)`` is :func:`stream_session` over the
    REST half's sessions."""

    def __init__(self, authenticate: Callable[[dict[str, str], dict[str, list[str]], int],
                                              tuple[Session | None, int, str]]) -> None:
        self.expired_status = 403
        self._authenticate = authenticate
        self.connections: list[StreamProtocol] = []
        self.handshakes: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []  # every text frame received, for the tests
        self.sequences: dict[tuple[int, str], int] = {}
        self.packets_sent = 0
        self.factory = WebSocketServerFactory()
        hub = self

        class Protocol(StreamProtocol):
            pass

        Protocol.hub = hub
        self.factory.protocol = Protocol

    def authenticate(self, headers: dict[str, str], params: dict[str, list[str]]) -> tuple[Session | None, int, str]:
        return self._authenticate(headers, params, self.expired_status)

    def publish(self, ticks: list[StreamTick]) -> dict[str, int]:
        """Sends every connection a packet per tick and mode it subscribed that token in; the
        sequence number goes up once per tick. Returns how many connections got any, and packets."""
        delivered: set[int] = set()
        packets = 0
        for tick in ticks:
            key = (tick.exchange_type, tick.token)
            sequence = tick.sequence_number if tick.sequence_number is not None else self.sequences.get(key, 0) + 1
            self.sequences[key] = sequence
            timestamp = tick.exchange_timestamp_ms if tick.exchange_timestamp_ms is not None else int(time.time() * 1000)
            for connection in list(self.connections):
                if connection.stalled:
                    continue
                for mode in MODES:
                    if key in connection.subscriptions[mode]:
                        connection.sendMessage(pack_tick(tick, mode, sequence, timestamp), isBinary=True)
                        delivered.add(id(connection))
                        packets += 1
        self.packets_sent += packets
        return {"connections": len(delivered), "packets": packets}

    def drop(self, how: str = "abort") -> int:
        """Ends every connection: ``abort`` drops TCP without a close frame (a network cut),
        ``close`` sends a close frame, code 1000."""
        count = len(self.connections)
        for connection in list(self.connections):
            if how == "close":
                connection.sendClose(1000, "going away")  # autobahn lets a server send only 1000 or 3000-4999
            else:
                connection.transport.abortConnection()
        return count

    def stall(self, stalled: bool) -> int:
        for connection in self.connections:
            connection.stalled = stalled
        return len(self.connections)

    def drop_sessions(self, jwts: list[str]) -> None:
        """An expired or logged-out session's connections end (by its jwt or its feed token)."""
        for connection in list(self.connections):
            if connection.jwt in jwts or (connection.session and connection.session.jwt in jwts):
                connection.sendClose(1000, "session expired")

    def state(self) -> list[dict[str, Any]]:
        return [c.describe() for c in self.connections]
