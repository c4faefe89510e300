#!/usr/bin/env python3
"""A local fake of Angel One SmartAPI: its documented REST API, the order-update WebSocket
(what the SDK's SmartWebSocketOrderUpdate connects to) and the SmartStream market data (what
SmartWebSocketV2 connects to, at /smart-stream: fake_angel_stream.py, where handshake, requests,
byte layout and the facts' sources are) on one port, run as its own process like fake_kite.py,
so pytest and the engine's end-to-end tests can start it:

    python brokers/python/tests/fake_angel.py --port 0 --ready-file F

writes the port N (decimal text) to F once it listens on 127.0.0.1:N (port 0: any free one).
Point the SDK at it with ``SmartConnect(api_key, root="http://127.0.0.1:N")``, the order-update
client at ``ws://127.0.0.1:N/smart-order-update`` (SmartWebSocketOrderUpdate.WEBSOCKET_URI) and
the scrip master download at ``http://127.0.0.1:N/OpenAPI_File/files/OpenAPIScripMaster.json``.
It runs until SIGTERM. The state and validation are in fake_angel_exchange.py.

REST (SmartAPI's paths; JSON bodies, as the SDK sends them; a GET's ``?{json}`` query, which the
SDK sends as ``params=json.dumps(...)``, is ignored). Headers: ``X-PrivateKey: <api_key>`` on
every call, ``Authorization: Bearer <jwt>`` on /rest/secure/*. Answers
``{"status": true, "message": "SUCCESS", "errorcode": "", "data": ...}``; errors
``{"status": false, "message", "errorcode", "data": null}``:
- POST /rest/auth/angelbroking/user/v1/loginByPassword ``{clientcode, password (the MPIN), totp}``
  -> ``{jwtToken, refreshToken, feedToken}``; AB1007 "Login Id or password is invalid", AB1050
  "Invalid totp", AG8004 "Invalid API Key" (all HTTP 200).
- POST /rest/auth/angelbroking/jwt/v1/generateTokens ``{refreshToken}`` -> new jwt and feed
  token; AB8050 Invalid Refresh Token, AB8051 Refresh Token Expired.
- GET .../user/v1/getProfile, POST .../user/v1/logout, GET .../user/v1/getRMS.
- POST .../order/v1/placeOrder (-> ``{script, orderid, uniqueorderid}``), modifyOrder, cancelOrder
  (-> ``{orderid, uniqueorderid}``); GET .../order/v1/getOrderBook, getTradeBook, getPosition
  (``data: null`` when empty); GET .../order/v1/details/{uniqueorderid}.
- GET /OpenAPI_File/files/OpenAPIScripMaster.json: the scrip master, a bare JSON list.
- Token errors: no Authorization AG8003 "Token missing" (HTTP 401), a jwt never issued or logged
  out AG8001 "Invalid Token" (401), an expired one AG8002 "Token Expired" (403); another api key
  AG8004 (401). In the documented envelope by default; ``/_fake/token_errors {shape: "gateway"}``
  switches them to ``{"success": false, "message", "errorCode", "data": ""}``, the shape Angel's
  API gateway really answers AG8001 with (forum threads), so a gateway can be tested against both.
- Past a rate limit: HTTP 403 with the plain-text body "Access denied because of exceeding access
  rate" (not JSON: the SDK raises DataException "Couldn't parse the JSON response").

Order-update WebSocket, path /smart-order-update: the handshake's ``Authorization`` (the SDK
sends it as given; "Bearer <jwt>" per the docs, a bare jwt is accepted too) must be a live
session, else HTTP 401 (invalid) or 403 (expired); a 4th connection of a client code is refused
with 429 (the docs' limit of 3). x-api-key, x-client-code and x-feed-token are recorded, not
checked (the order-status docs ask only for Authorization). On connect it sends the documented
AB00 message, then one text JSON message per change of an order of that client code:
``{"user-id", "status-code": "200", "order-status": "AB01".., "error-message": "", "orderData"}``.
The text "ping" is answered "pong"; WebSocket pings are ponged.

Control endpoints (the tests' hands; JSON bodies, JSON answers ``{"ok": true, ...}``; the client
code defaults to A123456):
- ``POST /_fake/session`` ``{api_key, client_code, jwt, feed_token?, refresh_token?}``: a live
  session (what a morning login would have made).
- ``POST /_fake/account`` ``{api_key, client_code, mpin, totp_secret}``: credentials that
  loginByPassword accepts (TOTP: RFC 6238, SHA-1, 30 s, 6 digits, base32; previous, current and
  next step accepted). ``GET /_fake/totp?secret=`` answers ``{totp}`` for now.
- ``POST /_fake/expire`` ``{jwt?, refresh?: false}``: expires that session (all without one):
  REST answers AG8002, its order-update connections are closed and new ones refused with 403;
  with ``refresh`` its refresh token answers AB8051 too.
- ``POST /_fake/fill`` ``{orderid, quantity?, price?}``: an execution (all of the unfilled quantity
  by default, at the order's price by default; a MARKET order needs ``price``); answers
  ``{"trade": {trade book row}}``.
- ``POST /_fake/reject`` ``{orderid, reason}``, ``POST /_fake/cancel`` ``{orderid, reason?}`` (the
  exchange cancels, e.g. an IOC), ``POST /_fake/trigger`` ``{orderid}`` (trigger pending -> open).
- ``POST /_fake/reject_next`` ``{client_code?, reasons: [..]}``: the next placements are accepted
  by the API (status true, an orderid) and then rejected by "RMS" with text = the reason.
- ``POST /_fake/funds`` ``{client_code?, cash}``: getRMS's net and availablecash.
- ``POST /_fake/overnight`` ``{client_code?, exchange, tradingsymbol, symboltoken, producttype,
  quantity, price?}``: a position carried from an earlier day (cfbuyqty for +, cfsellqty for -).
- ``POST /_fake/trades_lag`` ``{client_code?, reads}``: the next ``reads`` getTradeBook leave out
  the latest trade (the trade book lags the order book).
- ``POST /_fake/fail`` ``{method, path, status, errorcode, message, count?=1, after?=false,
  raw?}``: the next ``count`` requests whose method matches and path starts with ``path`` get this
  error (``raw``: this text as the body instead of the JSON envelope); with ``after: true`` each is
  carried out first, and the answer is what gets lost.
- ``POST /_fake/rate_limits`` ``{enabled}``; ``POST /_fake/token_errors`` ``{shape: "docs"|"gateway"}``.
- ``POST /_fake/ws/drop`` ``{how?: "abort"|"close"}``: ends every order-update connection.
- ``POST /_fake/ws/stall`` ``{stalled: true|false}``: the open connections go silent (no updates,
  no pongs of either kind) or speak again; new connections are not stalled.
- ``POST /_fake/stream/ticks`` ``{ticks: [{exchange_type, token, ltp (rupees), ...}]}`` (fields of
  fake_angel_stream.StreamTick): a packet per subscribed connection and mode; answers
  ``{connections, packets}``. ``/_fake/stream/drop`` ``{how?}`` and ``/_fake/stream/stall``
  ``{stalled}`` as the ws/ ones; ``/_fake/stream/expired_status`` ``{status: 401|403}``.
- ``POST /_fake/scrip`` ``{rows: [{token, symbol, name, expiry, strike, lotsize, instrumenttype,
  exch_seg, tick_size}]}``: adds (or replaces, by exch_seg + symbol) scrip master rows.
- ``GET /_fake/state``: ``{orders: {client: [order book rows]}, trades: {client: [trade book rows]},
  requests: [{method, path, status, errorcode}], ws: [{client_code, jwt, bearer, api_key,
  feed_token, stalled}], ws_handshakes: [{client_code, status}], ws_messages: [{client_code, text}],
  stream: [{client_code, subscriptions: {mode: [tokens]}, exchange_subscriptions, stalled, ...}],
  stream_requests: [{client_code, text, request}], stream_handshakes: [{client_code, status,
  error_message}]}``.

Where the facts come from. From Angel's documentation (smartapi.angelbroking.com/docs, sections
User, Orders, Portfolio, Rate Limit, Websocket Order Status, and the error-code table at
/docs/Exceptions): the paths, the request and answer field names, the constants and their
spellings, the envelope, the error codes AG8001-AG8003, AB8050/AB8051, AB1004, AB1007 (the docs'
failed-login sample), AB1008, AB1009, AB1012, AB1013, AB2002, AB4008, the rate limits and their
403, the order-update URL, greeting, codes AB00-AB11, ping/pong, the 3-connection limit and its
401/403/429 refusals, "IOC orders are not allowed for commodities". From Angel's forum: AB1050
"Invalid totp", AG8004 "Invalid API Key", the gateway envelope of AG8001, the exact rate-limit
text, an empty book being ``data: null``, ``status`` "modified" with ``orderstatus`` still the
working state after a modification. The fake's own choices: HTTP 200 for business errors, the
REST token errors' HTTP statuses (taken from the socket's 401/403), AB1004 with its own message
for every validation Angel gives no code for (bad ordertype, price, triggerprice, quantity, lot
multiple, duration, exchange), DELIVERY/MARGIN refused off NSE/BSE and CARRYFORWARD on them (AB1012),
AMO refused (AB1008) and ROBO refused (AB2002), MARKET orders left as MARKET (Angel's market price
protection turns them into limits; not simulated), no tick-size, margin or market-hours checks,
ordertag of 20 characters accepted (the docs' "less than 20" is read as at most 20), a user's
cancel leaving ``text`` empty (as the docs' cancelled sample), real lists in getProfile (the docs
print them as strings), tokens of derivatives and their expiries made up.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet import reactor as _reactor
from twisted.web import resource, server

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_angel_exchange import FakeAngel, trade_row  # noqa: E402
from fake_angel_model import AngelError, Session, empty_ws_order, render_order, totp, ws_message  # noqa: E402
from fake_angel_stream import StreamHub, StreamTick, stream_session  # noqa: E402

DEFAULT_CLIENT = "A123456"
MAX_CONNECTIONS = 3  # per client code (docs, Websocket Order Status)
LOGIN = "/rest/auth/angelbroking/user/v1/loginByPassword"
TOKENS = "/rest/auth/angelbroking/jwt/v1/generateTokens"
SCRIP_MASTER = "/OpenAPI_File/files/OpenAPIScripMaster.json"
USER = "/rest/secure/angelbroking/user/v1/"
ORDER = "/rest/secure/angelbroking/order/v1/"
DETAILS = ORDER + "details/"
# (method, path) -> rate-limit category (fake_angel_exchange.RATE_LIMITS).
SECURE_ROUTES = {
    ("GET", USER + "getProfile"): "profile", ("POST", USER + "logout"): "logout",
    ("GET", USER + "getRMS"): "rms", ("POST", ORDER + "placeOrder"): "orders",
    ("POST", ORDER + "modifyOrder"): "orders", ("POST", ORDER + "cancelOrder"): "orders",
    ("GET", ORDER + "getOrderBook"): "orderbook", ("GET", ORDER + "getTradeBook"): "tradebook",
    ("GET", ORDER + "getPosition"): "position",
}
reactor: Any = _reactor  # Twisted types the global reactor as a module; it is an object


class OrderUpdateProtocol(WebSocketServerProtocol):  # type: ignore[misc]
    """One order-update connection."""

    hub: "OrderUpdateHub"

    def __init__(self) -> None:
        super().__init__()
        self.session: Session | None = None
        self.bearer = False
        self.api_key = ""
        self.client_header = ""
        self.feed_token = ""
        self.stalled = False

    def onConnect(self, request: Any) -> None:  # noqa: N802 (autobahn's names)
        headers: dict[str, str] = request.headers
        authorization = headers.get("authorization", "")
        session, status = self.hub.authenticate(authorization)
        client = session.client_code if session else ""
        if session is not None and sum(1 for c in self.hub.connections if c.session and
                                       c.session.client_code == client) >= MAX_CONNECTIONS:
            status = 429
        self.hub.handshakes.append({"client_code": client, "status": status})
        if status == 401:
            raise ConnectionDeny(401, "Unauthorized")
        if status == 403:
            raise ConnectionDeny(403, "Forbidden")
        if status == 429:
            raise ConnectionDeny(429, "Too Many Requests")
        self.session, self.bearer = session, authorization.startswith("Bearer ")
        self.api_key = headers.get("x-api-key", "")
        self.client_header = headers.get("x-client-code", "")
        self.feed_token = headers.get("x-feed-token", "")

    def onOpen(self) -> None:  # noqa: N802
        self.hub.connections.append(self)
        assert self.session is not None
        self.send_json(ws_message(self.session.client_code, "AB00", empty_ws_order()))

    def onClose(self, was_clean: bool, code: int | None, reason: str | None) -> None:  # noqa: N802
        if self in self.hub.connections:
            self.hub.connections.remove(self)

    def onPing(self, payload: bytes) -> None:  # noqa: N802
        if not self.stalled:  # a stalled server answers nothing, not even pings
            self.sendPong(payload)

    def onMessage(self, payload: bytes, is_binary: bool) -> None:  # noqa: N802
        text = payload.decode("utf-8", errors="replace")
        self.hub.messages.append({"client_code": self.session.client_code if self.session else "", "text": text})
        if not is_binary and text.strip() == "ping" and not self.stalled:
            self.sendMessage(b"pong", isBinary=False)

    def send_json(self, message: dict[str, Any]) -> None:
        if not self.stalled:
            self.sendMessage(json.dumps(message).encode("utf-8"), isBinary=False)


class OrderUpdateHub:
    """The fake's order-update connections: publishing order changes, and the drop / stall
    commands. ``authenticate(authorization)`` returns (session, 200) or (None, 401 | 403); the
    REST half owns the sessions."""

    def __init__(self, authenticate: Callable[[str], tuple[Session | None, int]]) -> None:
        self.authenticate = authenticate
        self.connections: list[OrderUpdateProtocol] = []
        self.handshakes: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []  # every text frame received, for the tests
        self.factory = WebSocketServerFactory()
        hub = self

        class Protocol(OrderUpdateProtocol):
            pass

        Protocol.hub = hub
        self.factory.protocol = Protocol

    def publish_order(self, client_code: str, message: dict[str, Any]) -> None:
        for connection in list(self.connections):
            if connection.session and connection.session.client_code == client_code:
                connection.send_json(message)

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
        """An expired or logged-out session's connections end."""
        for connection in list(self.connections):
            if connection.session and connection.session.jwt in jwts:
                connection.sendClose(1000, "session expired")

    def state(self) -> list[dict[str, Any]]:
        return [{"client_code": c.session.client_code if c.session else "", "jwt": c.session.jwt if c.session else "",
                 "bearer": c.bearer, "api_key": c.api_key, "x_client_code": c.client_header,
                 "feed_token": c.feed_token, "stalled": c.stalled} for c in self.connections]


class Fake:
    def __init__(self) -> None:
        self.hub = OrderUpdateHub(lambda authorization: self.angel.ws_session(authorization))
        self.angel = FakeAngel(self.hub.publish_order)
        self.stream = StreamHub(lambda headers, params, expired: stream_session(self.angel, headers, params, expired))
        self.requests: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []

    # -- control ----------------------------------------------------------------------------
    def control(self, method: str, name: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        angel = self.angel
        client = str(body.get("client_code") or DEFAULT_CLIENT)
        if method == "GET" and name == "state":
            return {"orders": {c: [render_order(o, numeric_prices=False) for o in a.orders.values()]
                               for c, a in angel.accounts.items()},
                    "trades": {c: [trade_row(t) for t in a.trades] for c, a in angel.accounts.items()},
                    "requests": self.requests, "ws": self.hub.state(), "ws_handshakes": self.hub.handshakes,
                    "ws_messages": self.hub.messages, "stream": self.stream.state(),
                    "stream_requests": self.stream.requests, "stream_handshakes": self.stream.handshakes}
        if method == "GET" and name == "totp":
            return {"totp": totp(query["secret"])}
        if method != "POST":
            raise AngelError(405, "FAKE", "control endpoints are POST")
        if name == "session":
            angel.add_session(str(body["api_key"]), client, str(body["jwt"]), str(body.get("feed_token") or ""),
                              str(body.get("refresh_token") or ""))
        elif name == "account":
            angel.add_account(str(body["api_key"]), client, str(body["mpin"]), str(body["totp_secret"]))
        elif name == "expire":
            ended = angel.expire(body.get("jwt"), bool(body.get("refresh", False)))
            self.hub.drop_sessions(ended)
            self.stream.drop_sessions(ended)
            return {"expired": len(ended)}
        elif name == "fill":
            quantity = body.get("quantity")
            price = body.get("price")
            return {"trade": angel.fill(str(body["orderid"]), None if quantity is None else int(quantity),
                                        None if price is None else float(price))}
        elif name == "reject":
            angel.reject(str(body["orderid"]), str(body["reason"]))
        elif name == "cancel":
            angel.exchange_cancel(str(body["orderid"]), str(body.get("reason") or ""))
        elif name == "trigger":
            angel.trigger(str(body["orderid"]))
        elif name == "reject_next":
            angel.account(client).reject_next.extend(str(r) for r in body["reasons"])
        elif name == "funds":
            angel.account(client).cash = float(body["cash"])
        elif name == "overnight":
            key = (str(body["exchange"]), str(body["tradingsymbol"]), str(body["producttype"]))
            angel.account(client).overnight[key] = (str(body["symboltoken"]), int(body["quantity"]),
                                                    float(body.get("price") or 0))
        elif name == "trades_lag":
            angel.account(client).trades_lag = int(body["reads"])
        elif name == "fail":
            self.failures.append({"method": body["method"], "path": body["path"], "status": int(body["status"]),
                                  "errorcode": str(body.get("errorcode") or ""), "message": str(body.get("message") or ""),
                                  "count": int(body.get("count", 1)), "after": bool(body.get("after", False)),
                                  "raw": body.get("raw")})
        elif name == "rate_limits":
            angel.limiter.enabled = bool(body["enabled"])
        elif name == "token_errors":
            if body["shape"] not in ("docs", "gateway"):
                raise ValueError("shape is docs or gateway")
            angel.token_error_shape = str(body["shape"])
        elif name == "ws/drop":
            return {"connections": self.hub.drop(str(body.get("how") or "abort"))}
        elif name == "ws/stall":
            return {"connections": self.hub.stall(bool(body.get("stalled", True)))}
        elif name == "stream/ticks":
            return self.stream.publish([StreamTick.from_json(t) for t in body["ticks"]])
        elif name == "stream/drop":
            return {"connections": self.stream.drop(str(body.get("how") or "abort"))}
        elif name == "stream/stall":
            return {"connections": self.stream.stall(bool(body.get("stalled", True)))}
        elif name == "stream/expired_status":
            self.stream.expired_status = {401: 401, 403: 403}[int(body["status"])]  # else 400
        elif name == "scrip":
            return {"added": angel.scrips.add(list(body["rows"]))}
        else:
            raise AngelError(404, "FAKE", f"no control endpoint {name}")
        return {}

    # -- SmartAPI's REST --------------------------------------------------------------------
    def rest(self, method: str, path: str, body: dict[str, Any], headers: dict[str, str | None]) -> Any:
        failing = next((f for f in self.failures
                        if f["count"] > 0 and f["method"] == method and path.startswith(f["path"])), None)
        if failing is None:
            return self._rest(method, path, body, headers)
        failing["count"] -= 1
        if failing["after"]:  # carried out, and the answer lost on the way back
            try:
                self._rest(method, path, body, headers)
            except AngelError:
                pass
        raise InjectedFailure(failing)

    def _rest(self, method: str, path: str, body: dict[str, Any], headers: dict[str, str | None]) -> Any:
        angel = self.angel
        api_key = headers.get("x-privatekey")
        if path == LOGIN and method == "POST":
            angel.limiter.check(str(body.get("clientcode") or "?"), "login")
            return angel.login(api_key, body)
        if path == TOKENS and method == "POST":
            angel.limiter.check(angel.client_for_refresh(body), "tokens")
            return angel.generate_tokens(api_key, body)
        category = SECURE_ROUTES.get((method, path))
        if category is None and method == "GET" and path.startswith(DETAILS):
            category = "details"
        if category is None:
            raise AngelError(404, "AB1004", f"Route not found: {method} {path}")
        session = angel.session_for(api_key, headers.get("authorization"))
        client = session.client_code
        angel.limiter.check(client, category)
        if path.startswith(DETAILS):
            return angel.order_details(client, path[len(DETAILS):])
        name = path.rsplit("/", 1)[-1]
        if name == "getProfile":
            return angel.profile(session)
        if name == "logout":
            self.hub.drop_sessions(ended := angel.logout(session))
            self.stream.drop_sessions(ended)
            return ""
        if name == "getRMS":
            return angel.rms(client)
        if name == "placeOrder":
            return angel.place(client, body)
        if name == "modifyOrder":
            return angel.modify(client, body)
        if name == "cancelOrder":
            return angel.cancel(client, body)
        if name == "getOrderBook":
            return angel.order_book(client)
        if name == "getTradeBook":
            return angel.trade_book(client)
        return angel.positions(client)


class InjectedFailure(Exception):
    """A /_fake/fail answer standing in for the real one."""

    def __init__(self, failure: dict[str, Any]) -> None:
        super().__init__(failure["message"])
        self.failure = failure


class RestResource(resource.Resource):
    isLeaf = True

    def __init__(self, fake: Fake) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.fake = fake

    def render(self, request: Any) -> bytes:
        method = request.method.decode()
        url = urlsplit(request.uri.decode())
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        raw_body = request.content.read() if request.content else b""
        status, content_type, out = 200, b"application/json", b""
        errorcode = ""
        try:
            if url.path.startswith("/_fake/"):
                data = json.loads(raw_body) if raw_body else {}
                out = json.dumps({"ok": True, **self.fake.control(method, url.path[len("/_fake/"):], data, query)}).encode()
            elif url.path == SCRIP_MASTER and method == "GET":
                out = json.dumps(self.fake.angel.scrips.rows).encode()  # a bare list, no envelope
            else:
                try:
                    body = json.loads(raw_body) if raw_body and method == "POST" else {}
                except ValueError:
                    raise AngelError(400, "AB1004", "Invalid request body: not JSON") from None
                if not isinstance(body, dict):
                    raise AngelError(400, "AB1004", "Invalid request body: not a JSON object")
                headers = {name: request.getHeader(name) for name in ("x-privatekey", "authorization")}
                data = self.fake.rest(method, url.path, body, headers)
                out = json.dumps({"status": True, "message": "SUCCESS", "errorcode": "", "data": data}).encode()
        except InjectedFailure as injected:
            f = injected.failure
            status, errorcode = f["status"], f["errorcode"]
            if f["raw"] is not None:
                content_type, out = b"text/plain", str(f["raw"]).encode()
            else:
                out = json.dumps({"status": False, "message": f["message"], "errorcode": f["errorcode"],
                                  "data": None}).encode()
        except AngelError as error:
            status, errorcode = error.status, error.errorcode
            if error.kind == "rate":
                content_type, out = b"text/plain", error.message.encode()
            elif error.kind == "token" and self.fake.angel.token_error_shape == "gateway":
                out = json.dumps({"success": False, "message": error.message, "errorCode": error.errorcode,
                                  "data": ""}).encode()
            else:
                out = json.dumps({"status": False, "message": error.message, "errorcode": error.errorcode,
                                  "data": None}).encode()
        except (KeyError, ValueError, TypeError) as error:
            status, errorcode = 400, "AB1004"
            out = json.dumps({"status": False, "message": f"bad request: {error!r}", "errorcode": "AB1004",
                              "data": None}).encode()
        if not url.path.startswith("/_fake/"):
            self.fake.requests.append({"method": method, "path": url.path, "status": status, "errorcode": errorcode})
        request.setResponseCode(status)
        request.setHeader(b"content-type", content_type)
        return out


class Root(resource.Resource):
    def __init__(self, fake: Fake) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.rest = RestResource(fake)
        self.ws = WebSocketResource(fake.hub.factory)
        self.stream = WebSocketResource(fake.stream.factory)

    def getChild(self, name: bytes, request: Any) -> Any:  # noqa: N802 (Twisted's name)
        if name == b"smart-stream":
            return self.stream
        return self.ws if name == b"smart-order-update" else self.rest

    def render(self, request: Any) -> bytes:
        result: bytes = self.rest.render(request)
        return result


def main(argv: list[str] | None = None) -> int:
    # A parent that started this process from a thread with signals blocked (Foundation's Process
    # run from a Dispatch worker does) leaves them blocked here, and SIGTERM would never arrive.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    parser = argparse.ArgumentParser(description="fake Angel One SmartAPI (REST, order updates, SmartStream)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", type=Path, required=True)
    args = parser.parse_args(argv)
    fake = Fake()
    site = server.Site(Root(fake))  # type: ignore[no-untyped-call]
    port = reactor.listenTCP(args.port, site, interface="127.0.0.1")
    tmp = args.ready_file.with_suffix(".tmp")
    tmp.write_text(str(port.getHost().port))
    tmp.rename(args.ready_file)  # whole or absent: a reader never sees half a file
    signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(reactor.stop))
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
