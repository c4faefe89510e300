"""The Kite Ticker half of the fake Kite Connect (fake_kite.py serves it): the WebSocket
market-data and order-update stream, in the byte layout Kite's WebSocket documentation gives
and the official SDK's ``KiteTicker._parse_binary`` reads.

- Handshake ``?api_key=&access_token=``: a session the fake does not hold is refused with HTTP
  403 (as Kite refuses an expired or wrong token), before any frame.
- Text requests ``{"a": "subscribe"|"unsubscribe", "v": [tokens]}`` and
  ``{"a": "mode", "v": ["ltp"|"quote"|"full", [tokens]]}``; a subscription starts in ``quote``
  mode (Kite's default). At most 3,000 instruments per connection (Kite's documented limit):
  the excess is not subscribed and the connection gets ``{"type": "error", "data": ...}``.
- Binary tick messages: a 2-byte packet count, then per packet a 2-byte length and the packet
  (int32 big-endian fields, prices in paise; 8 bytes ltp, 44 quote, 184 full; indices 8/28/32).
- A 1-byte binary heartbeat every second; text ``{"type": "order", "data": {...}}`` on every
  change of an order of the connection's user.
- On command: a forced disconnect (TCP abort or a close frame) and a silent stall (nothing sent,
  pings unanswered, the socket left open), so publishers' stall detection can be tested.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any, Callable

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet import task

MAX_INSTRUMENTS = 3000
MODES = ("ltp", "quote", "full")
# Segment (the low byte of an instrument token) -> price divisor, as KiteTicker reads it.
SEGMENT_CDS, SEGMENT_BCD, SEGMENT_INDICES, SEGMENT_NCO = 3, 6, 9, 12


def divisor(token: int) -> int:
    segment = token & 0xFF
    if segment == SEGMENT_CDS:
        return 10_000_000
    if segment in (SEGMENT_BCD, SEGMENT_NCO):
        return 10_000
    return 100


@dataclass
class Tick:
    """One instrument's state as the fake publishes it (prices in rupees; the packet carries
    them as integers in the segment's unit)."""

    instrument_token: int
    last_price: float
    last_quantity: int = 0
    average_price: float = 0.0
    volume: int = 0
    buy_quantity: int = 0
    sell_quantity: int = 0
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    close: float = 0.0
    last_trade_time: int = 0      # epoch seconds
    oi: int = 0
    oi_day_high: int = 0
    oi_day_low: int = 0
    exchange_timestamp: int = 0   # epoch seconds
    # Five (quantity, price, orders) levels each side; missing levels are zeros.
    bids: list[tuple[int, float, int]] = field(default_factory=list)
    asks: list[tuple[int, float, int]] = field(default_factory=list)

    @staticmethod
    def from_json(value: dict[str, Any]) -> "Tick":
        names = set(Tick.__dataclass_fields__)
        unknown = set(value) - names
        if unknown:
            raise ValueError(f"unknown tick fields: {sorted(unknown)}")
        tick = Tick(**value)
        tick.bids = [tuple(level) for level in tick.bids]  # type: ignore[misc]
        tick.asks = [tuple(level) for level in tick.asks]  # type: ignore[misc]
        return tick


def pack_tick(tick: Tick, mode: str) -> bytes:
    """The packet of ``tick`` in ``mode``, as Kite lays it out."""
    d = divisor(tick.instrument_token)

    def p(price: float) -> int:
        return int(round(price * d))

    token = tick.instrument_token
    if mode == "ltp":
        return struct.pack(">II", token, p(tick.last_price))
    if token & 0xFF == SEGMENT_INDICES:
        change = p(tick.last_price - tick.close) if tick.close else 0
        body = struct.pack(">IIIIIIi", token, p(tick.last_price), p(tick.high), p(tick.low),
                           p(tick.open), p(tick.close), change)
        return body if mode == "quote" else body + struct.pack(">I", tick.exchange_timestamp)
    body = struct.pack(">IIIIIIIIIII", token, p(tick.last_price), tick.last_quantity,
                       p(tick.average_price), tick.volume, tick.buy_quantity, tick.sell_quantity,
                       p(tick.open), p(tick.high), p(tick.low), p(tick.close))
    if mode == "quote":
        return body
    body += struct.pack(">IIIII", tick.last_trade_time, tick.oi, tick.oi_day_high, tick.oi_day_low,
                        tick.exchange_timestamp)
    for side in (tick.bids, tick.asks):
        levels = list(side)[:5] + [(0, 0.0, 0)] * (5 - min(5, len(side)))
        for quantity, price, orders in levels:
            body += struct.pack(">IIHxx", quantity, p(price), orders)
    return body


def pack_message(packets: list[bytes]) -> bytes:
    """A binary message: the packet count, then each packet after its length."""
    out = struct.pack(">H", len(packets))
    for packet in packets:
        out += struct.pack(">H", len(packet)) + packet
    return out


class TickerProtocol(WebSocketServerProtocol):  # type: ignore[misc]
    """One Kite Ticker connection."""

    hub: "TickerHub"

    def __init__(self) -> None:
        super().__init__()
        self.user_id = ""
        self.api_key = ""
        self.modes: dict[int, str] = {}
        self.stalled = False

    def onConnect(self, request: Any) -> None:  # noqa: N802 (autobahn's names)
        params: dict[str, list[str]] = request.params
        api_key = (params.get("api_key") or [""])[0]
        token = (params.get("access_token") or [""])[0]
        user = self.hub.authenticate(api_key, token)
        if user is None:
            raise ConnectionDeny(403, "Forbidden: invalid api_key or access_token")
        self.user_id, self.api_key = user, api_key

    def onOpen(self) -> None:  # noqa: N802
        self.hub.connections.append(self)

    def onClose(self, was_clean: bool, code: int | None, reason: str | None) -> None:  # noqa: N802
        if self in self.hub.connections:
            self.hub.connections.remove(self)

    def onPing(self, payload: bytes) -> None:  # noqa: N802
        if not self.stalled:  # a stalled server answers nothing, not even pings
            self.sendPong(payload)

    def onMessage(self, payload: bytes, is_binary: bool) -> None:  # noqa: N802
        if is_binary:
            return
        try:
            request = json.loads(payload.decode("utf-8"))
            action, value = request["a"], request["v"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            self.send_text({"type": "error", "data": "invalid message"})
            return
        self.hub.requests.append({"user_id": self.user_id, "a": action, "v": value})
        if action == "subscribe" and isinstance(value, list):
            room = MAX_INSTRUMENTS - len(self.modes)
            new = [int(t) for t in value if int(t) not in self.modes]
            for token in new[:max(room, 0)]:
                self.modes[token] = "quote"
            if len(new) > room:
                self.send_text({"type": "error", "data":
                                f"subscription limit of {MAX_INSTRUMENTS} instruments per connection exceeded: "
                                f"{len(new) - max(room, 0)} not subscribed"})
        elif action == "unsubscribe" and isinstance(value, list):
            for token in value:
                self.modes.pop(int(token), None)
        elif action == "mode" and isinstance(value, list) and len(value) == 2 and value[0] in MODES:
            for token in value[1]:
                if int(token) in self.modes:
                    self.modes[int(token)] = value[0]
        else:
            self.send_text({"type": "error", "data": f"invalid message action: {action}"})

    def send_text(self, message: dict[str, Any]) -> None:
        if not self.stalled:
            self.sendMessage(json.dumps(message).encode("utf-8"), isBinary=False)

    def send_binary(self, data: bytes) -> None:
        if not self.stalled:
            self.sendMessage(data, isBinary=True)


class TickerHub:
    """The fake's Ticker connections: publishing ticks and order updates, heartbeats, and the
    drop / stall commands. ``authenticate(api_key, access_token)`` returns the session's user
    id or None (the REST half owns the sessions)."""

    def __init__(self, authenticate: Callable[[str, str], str | None]) -> None:
        self.authenticate = authenticate
        self.connections: list[TickerProtocol] = []
        self.requests: list[dict[str, Any]] = []  # every text request received, for the tests
        self.ticks_sent = 0
        self.factory = WebSocketServerFactory()
        hub = self

        class Protocol(TickerProtocol):
            pass

        Protocol.hub = hub
        self.factory.protocol = Protocol
        self._heartbeat = task.LoopingCall(self.heartbeat)
        self._heartbeat.start(1.0, now=False)

    def heartbeat(self) -> None:
        for connection in list(self.connections):
            connection.send_binary(b"\x00")

    def publish_ticks(self, ticks: list[Tick]) -> int:
        """Sends each connection its subscribed instruments' ticks in their modes, in one
        message; returns how many connections got one."""
        delivered = 0
        for connection in list(self.connections):
            packets = [pack_tick(t, connection.modes[t.instrument_token]) for t in ticks
                       if t.instrument_token in connection.modes]
            if packets and not connection.stalled:
                connection.send_binary(pack_message(packets))
                delivered += 1
                self.ticks_sent += len(packets)
        return delivered

    def publish_order(self, user_id: str, order: dict[str, Any]) -> None:
        for connection in list(self.connections):
            if connection.user_id == user_id:
                connection.send_text({"type": "order", "data": order})

    def drop(self, how: str = "abort") -> int:
        """Ends every connection: ``abort`` drops TCP without a close frame (a network cut),
        ``close`` sends a close frame, code 1000 (as at Kite's nightly maintenance)."""
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

    def drop_user(self, user_id: str) -> None:
        """An expired session's connections end (a real Kite server closes them)."""
        for connection in list(self.connections):
            if connection.user_id == user_id:
                connection.sendClose(1000, "session expired")

    def state(self) -> list[dict[str, Any]]:
        return [{"user_id": c.user_id, "api_key": c.api_key, "stalled": c.stalled,
                 "modes": {str(t): m for t, m in sorted(c.modes.items())}} for c in self.connections]
