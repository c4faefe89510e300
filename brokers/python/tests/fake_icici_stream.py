"""The socket.io half of the fake ICICI Direct Breeze: the live quote stream (ICICI's
livestream.icicidirect.com) and the order notifications (livefeeds.icicidirect.com) on one
python-socketio ``AsyncServer``, mounted by the fake's REST app (fake_icici.py) through
``StreamHub.asgi_app``.

What a client sees, and where each fact comes from (breeze-connect 1.0.69, the official SDK:
breeze_connect/breeze_connect.py, "SDK" below; its README.md, "README"):

- Handshake: socket.io v5 over Engine.IO 4, websocket transport only, path ``/socket.io`` (SDK:
  ``SocketEventBreeze.connect`` calls ``sio.connect(hostname, headers={"User-Agent": ...},
  auth={"user": user_id, "token": session_key}, transports="websocket", wait_timeout=3)``; the
  same call for both hosts). The auth must name a live session (``authenticate(user, token)``,
  the REST half's sessions), else the connection is refused with a socket.io CONNECT_ERROR
  ``{"message": "Invalid session"}`` -- refusing at all, and the text, are the fake's choice:
  neither the SDK nor the README says what ICICI does with a dead session (the SDK only treats
  any ``connect_error`` as ``authentication = False``).
- Which host: both are served here; a client whose URL carries ``?feed=orders`` (Engine.IO keeps
  the URL's query: ``{scheme}://{netloc}/socket.io/?{query}&transport=websocket&EIO=4``) is an
  order-notification connection, any other a quote-stream one (the fake's choice, standing in
  for the two host names).
- Rooms: the client emits ``join`` with a token or a list of tokens and ``leave`` likewise
  (SDK: ``watch``/``unwatch``; ``rewatch`` joins the whole list again on every ``connect``).
  Tokens are ``<segment>.<kind>!<token>``: segments 4 NSE and NFO, 1 BSE, 8 BFO (SDK:
  ``get_stock_token_value``; 13 NDX and 6 MCX too), kind 1 exchange quotes, 2 market depth
  (SDK, README "4.1!2885", "4.2!51219", "8.1!844663"). Any room is accepted (nothing is
  refused: the SDK has no answer to read); only kind 1 is ever published here.
- Quotes: event ``stock``, one list per tick (SDK: ``on('stock', on_message)`` -> ``parse_data``).
  Its fields, in ``parse_data``'s order: symbol (the room's token), open, last, high, low,
  change, bPrice, bQty, sPrice, sQty, ltq, avgPrice, then for equities (21 fields) ttq,
  totalBuyQt, totalSellQ, ttv, trend, lowerCktLm, upperCktLm, ltt, close, and for F&O (23) OI
  and CHNGOI before ttq. ``ltt`` is epoch seconds (``parse_data`` calls
  ``datetime.fromtimestamp`` on it). Prices are JSON numbers in rupees, quantities integers,
  ttv a number or a string like "1328.72C", trend "", "+" or "-", absent values null (README's
  sample ticks: RELIANCE 4.1!2885, the NIFTY 50 index with nulls, NFO 4.1!51219, BFO
  8.1!844663 with 23 fields). Which list length a tick gets is the fake's rule: 23 when it
  has ``OI`` or ``CHNGOI`` or its segment is 8 (BFO, as README's sample), else 21.
- Order notifications: event ``order`` with a list of strings (SDK: ``notify`` ->
  ``on('order', on_message)``; ``parse_data`` reads such a list by position when its first
  field has no "!"), sent to every order-feed connection of the user.
- Heartbeat: Engine.IO's own (server pings; ``ping_interval``/``ping_timeout`` below, the
  library's defaults unless given).

On command (the fake's own, for tests): publish ticks (a ``raw`` list is sent as given, for
malformed messages), publish an order notification, drop connections (``abort``: the transport
closes under the client without a socket.io or Engine.IO goodbye, so python-socketio's client
reconnects by itself; ``close``: a socket.io DISCONNECT, after which it does not), and end the
connections of expired sessions (``drop_sessions``).
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Coroutine
from urllib.parse import parse_qs

import socketio
from socketio.exceptions import ConnectionRefusedError as Refused

STREAM, ORDERS = "stream", "orders"
REFUSED_MESSAGE = "Invalid session"
COMMON = ("symbol", "open", "last", "high", "low", "change", "bPrice", "bQty", "sPrice", "sQty", "ltq", "avgPrice")
TAIL = ("ttq", "totalBuyQt", "totalSellQ", "ttv", "trend", "lowerCktLm", "upperCktLm", "ltt", "close")
EQUITY_FIELDS = COMMON + TAIL                       # 21: parse_data's NSE/BSE equity quote
FNO_FIELDS = COMMON + ("OI", "CHNGOI") + TAIL       # 23: its F&O quote
CONTROL_KEYS = ("raw", "fno")
BFO_SEGMENT = "8"


def quote_list(tick: dict[str, Any]) -> list[Any]:
    """The ``stock`` event's list for ``tick`` (parse_data's names; ``symbol`` required, the rest
    null unless given, ``ltt`` now and ``trend`` "" by default)."""
    if "raw" in tick:
        raw = tick["raw"]
        if not isinstance(raw, list):
            raise ValueError("raw must be a list")
        return list(raw)
    unknown = set(tick) - set(FNO_FIELDS) - set(CONTROL_KEYS)
    if unknown:
        raise ValueError(f"unknown tick fields: {sorted(unknown)}")
    symbol = tick.get("symbol")
    if not isinstance(symbol, str) or "!" not in symbol or "." not in symbol.split("!")[0]:
        raise ValueError(f"symbol must be a stream token like 4.1!2885: {symbol!r}")
    fno = tick.get("fno")
    if fno is None:
        fno = "OI" in tick or "CHNGOI" in tick or symbol.split(".")[0] == BFO_SEGMENT
    defaults = {"ltt": int(time.time()), "trend": ""}
    return [tick.get(name, defaults.get(name)) for name in (FNO_FIELDS if fno else EQUITY_FIELDS)]


@dataclass
class Connection:
    sid: str
    user: str
    token: str
    feed: str
    rooms: set[str] = field(default_factory=set)

    def describe(self) -> dict[str, Any]:
        return {"sid": self.sid, "user": self.user, "token": self.token, "feed": self.feed,
                "rooms": sorted(self.rooms)}


def rooms_of(data: Any) -> list[str]:
    """``join``/``leave``'s argument as the SDK sends it: a token or a list of them."""
    values = data if isinstance(data, list) else [data]
    return [v for v in values if isinstance(v, str) and v]


class StreamHub:
    """The fake's socket.io server. ``authenticate(user, token)`` says whether a session is live."""

    def __init__(self, authenticate: Callable[[str, str], bool], *, ping_interval: float = 25,
                 ping_timeout: float = 20) -> None:
        self._authenticate = authenticate
        self.sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*", ping_interval=ping_interval,
                                        ping_timeout=ping_timeout)
        self.connections: dict[str, Connection] = {}
        self.handshakes: list[dict[str, Any]] = []
        self.joins: list[dict[str, Any]] = []
        self.leaves: list[dict[str, Any]] = []
        self.events_sent = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("join", self._join)
        self.sio.on("leave", self._leave)

    def asgi_app(self, other_asgi_app: Any) -> Any:
        """The ASGI app serving socket.io at /socket.io and ``other_asgi_app`` (REST) elsewhere."""
        return socketio.ASGIApp(self.sio, other_asgi_app)

    # -- socket.io events -----------------------------------------------------------------------
    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        self._loop = asyncio.get_running_loop()
        query = str(environ.get("QUERY_STRING", ""))
        feed = ORDERS if parse_qs(query).get("feed") == [ORDERS] else STREAM
        auth = auth if isinstance(auth, dict) else {}
        user, token = auth.get("user"), auth.get("token")
        live = isinstance(user, str) and isinstance(token, str) and bool(user) and self._authenticate(user, token)
        self.handshakes.append({"user": user if isinstance(user, str) else None, "feed": feed, "accepted": live,
                                "user_agent": _header(environ, "HTTP_USER_AGENT")})
        if not live:
            raise Refused(REFUSED_MESSAGE)
        self.connections[sid] = Connection(sid, str(user), str(token), feed)

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        self.connections.pop(sid, None)

    async def _join(self, sid: str, data: Any) -> None:
        connection = self.connections.get(sid)
        if connection is None:
            return
        rooms = rooms_of(data)
        self.joins.append({"user": connection.user, "feed": connection.feed, "rooms": rooms})
        for room in rooms:
            await self.sio.enter_room(sid, room)
            connection.rooms.add(room)

    async def _leave(self, sid: str, data: Any) -> None:
        connection = self.connections.get(sid)
        if connection is None:
            return
        rooms = rooms_of(data)
        self.leaves.append({"user": connection.user, "feed": connection.feed, "rooms": rooms})
        for room in rooms:
            await self.sio.leave_room(sid, room)
            connection.rooms.discard(room)

    # -- commands -------------------------------------------------------------------------------
    async def publish_ticks(self, ticks: list[dict[str, Any]]) -> dict[str, int]:
        """A ``stock`` event per tick to each quote-stream connection that joined its token's
        room. Every tick is checked before any is sent (ValueError names the bad one)."""
        lists = [quote_list(tick) for tick in ticks]
        reached: set[str] = set()
        events = 0
        for values in lists:
            room = values[0] if values and isinstance(values[0], str) else None
            for connection in list(self.connections.values()):
                if connection.feed == STREAM and room in connection.rooms:
                    await self.sio.emit("stock", values, to=connection.sid)
                    reached.add(connection.sid)
                    events += 1
        self.events_sent += events
        return {"connections": len(reached), "events": events}

    async def publish_order(self, user_id: str, fields: list[str]) -> dict[str, int]:
        """An ``order`` event to every order-feed connection of ``user_id``."""
        targets = [c for c in self.connections.values() if c.feed == ORDERS and c.user == user_id]
        for connection in targets:
            await self.sio.emit("order", list(fields), to=connection.sid)
        self.events_sent += len(targets)
        return {"connections": len(targets)}

    async def drop(self, how: str = "abort", feed: str | None = None) -> int:
        """Ends the connections (of one ``feed`` kind, or all): ``abort`` closes the transport
        with no goodbye (the client reconnects by itself), ``close`` sends socket.io's DISCONNECT."""
        if how not in ("abort", "close"):
            raise ValueError("how: abort or close")
        targets = [c for c in self.connections.values() if feed is None or c.feed == feed]
        for connection in targets:
            if how == "close":
                await self.sio.disconnect(connection.sid)
                continue
            eio_sid = self.sio.manager.eio_sid_from_sid(connection.sid, "/")
            socket = self.sio.eio.sockets.get(eio_sid) if eio_sid else None
            if socket is not None:
                # close(abort=True) skips Engine.IO's CLOSE packet; the None ends the socket's
                # writer, which then closes the websocket under the client.
                await socket.close(wait=False, abort=True)
                await socket.queue.put(None)
        return len(targets)

    def drop_sessions(self, tokens: list[str]) -> int:
        """Ends (socket.io DISCONNECT) the connections authenticated with any of ``tokens``
        (session keys): an expired or logged-out session's sockets. Callable from the server's
        loop or another thread."""
        targets = [c.sid for c in self.connections.values() if c.token in tokens]
        for sid in targets:
            self._schedule(self.sio.disconnect(sid))
        return len(targets)

    def _schedule(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            task: asyncio.Future[Any] = running.create_task(coroutine)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif self._loop is not None:
            asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        else:
            coroutine.close()

    def state(self) -> dict[str, Any]:
        return {"connections": [c.describe() for c in self.connections.values()],
                "handshakes": list(self.handshakes), "joins": list(self.joins), "leaves": list(self.leaves),
                "events_sent": self.events_sent}


def _header(environ: dict[str, Any], name: str) -> str | None:
    value = environ.get(name)
    return value if isinstance(value, str) else None
