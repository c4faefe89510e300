#!/usr/bin/env python3
"""A local fake of Kite Connect v3: its documented REST API and the Kite Ticker WebSocket on one
port, run as its own process (the SDK's Twisted reactor cannot share one), so pytest and the
engine's end-to-end tests can start it:

    python brokers/python/tests/fake_kite.py --port 0 --ready-file F

writes the port N (decimal text) to F once it listens on 127.0.0.1:N (an empty port means any
free one). Point the SDK at it with ``KiteConnect(api_key, root="http://127.0.0.1:N")`` and
``KiteTicker(api_key, access_token, root="ws://127.0.0.1:N/ws")``. It runs until SIGTERM.

REST (Kite's paths, ``X-Kite-Version: 3``, ``Authorization: token api_key:access_token``; errors
``{"status": "error", "message", "error_type"}`` with Kite's HTTP codes: 400 InputException /
OrderException, 403 TokenException, 429 NetworkException "Too many requests" past Kite's
published limits, ...): POST/PUT/DELETE /orders/:variety[/:order_id]; GET /orders,
/orders/:order_id (history), /orders/:order_id/trades, /trades, /portfolio/positions,
/user/margins, /user/profile; POST /session/token (checksum = sha256(api_key + request_token +
api_secret)); DELETE /session/token. The order book and validation are in fake_kite_exchange.py,
the ticker in fake_kite_ticker.py.

Control endpoints (the tests' hands; JSON bodies, JSON answers ``{"ok": true, ...}``):
- ``POST /_fake/session`` ``{api_key, access_token, user_id?="AB1234", api_secret?}``: a valid
  session (what a morning login would have made).
- ``POST /_fake/request_token`` ``{api_key, api_secret, request_token, access_token, user_id?}``:
  a request token that POST /session/token exchanges once for ``access_token``.
- ``POST /_fake/expire`` ``{access_token?}``: ends that session (all without one): REST answers
  403 TokenException, its Ticker connections are closed and new ones refused with 403.
- ``POST /_fake/fill`` ``{order_id, quantity?, price?}``: an execution (all of the pending
  quantity by default, at the order's price by default); answers ``{"trade": {...}}``.
- ``POST /_fake/reject`` ``{order_id, reason}``, ``POST /_fake/cancel`` ``{order_id, reason?}``
  (the exchange cancels, e.g. an IOC), ``POST /_fake/trigger`` ``{order_id}`` (TRIGGER PENDING
  -> OPEN).
- ``POST /_fake/reject_next`` ``{user_id?, reasons: [..]}``: the next placements are accepted by
  the API and then REJECTED by "RMS" with these status messages (Kite's margin rejections).
- ``POST /_fake/margins`` ``{user_id?, cash}``.
- ``POST /_fake/trades_lag`` ``{user_id?, reads}``: the next ``reads`` GET /trades leave out the
  latest trade (Kite's trade book lags its order book by a moment).
- ``POST /_fake/overnight`` ``{user_id?, exchange, tradingsymbol, product, quantity}``: a position
  carried from an earlier day (in ``positions()["net"]``, not in ``["day"]``).
- ``POST /_fake/fail`` ``{method, path, status, error_type, message, count?=1}``: the next
  ``count`` requests whose method matches and path starts with ``path`` get this error (with
  ``after: true``, each is carried out first: the answer is what gets lost).
- ``POST /_fake/rate_limits`` ``{enabled}``: turn the 429 limits off or on.
- ``POST /_fake/ticks`` ``{ticks: [{instrument_token, last_price, ...}]}`` (fields of
  fake_kite_ticker.Tick): published to every connection subscribed to them, in its mode;
  answers ``{"connections": n}``.
- ``POST /_fake/ws/drop`` ``{how?: "abort"|"close"}``: ends every Ticker connection.
- ``POST /_fake/ws/stall`` ``{stalled: true|false}``: the open connections go silent (no ticks,
  heartbeats, order updates or pongs) or speak again; new connections are not stalled.
- ``GET /_fake/state``: ``{orders: {user: [...]}, trades: {user: [...]}, requests: [{method, path,
  status}], ticker: [{user_id, modes, stalled}], ticker_requests: [...], ticks_sent}``.
- ``GET /_fake/instrument_token?exchange=&tradingsymbol=``: the token the fake gives it.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from autobahn.twisted.resource import WebSocketResource
from twisted.internet import reactor as _reactor
from twisted.web import resource, server

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_kite_exchange import KiteError, FakeKite, instrument_token  # noqa: E402
from fake_kite_ticker import Tick, TickerHub  # noqa: E402

DEFAULT_USER = "AB1234"
reactor: Any = _reactor  # Twisted types the global reactor as a module; it is an object


class Fake:
    def __init__(self) -> None:
        self.hub = TickerHub(lambda key, token: self.kite.authenticate(key, token))
        self.kite = FakeKite(self.hub.publish_order)
        self.requests: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []

    # -- control ----------------------------------------------------------------------------
    def control(self, method: str, name: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        kite = self.kite
        user = str(body.get("user_id") or DEFAULT_USER)
        if method == "GET" and name == "state":
            return {"orders": {u: list(a.orders.values()) for u, a in kite.accounts.items()},
                    "trades": {u: a.trades for u, a in kite.accounts.items()},
                    "requests": self.requests, "ticker": self.hub.state(),
                    "ticker_requests": self.hub.requests, "ticks_sent": self.hub.ticks_sent}
        if method == "GET" and name == "instrument_token":
            return {"instrument_token": instrument_token(query.get("exchange", ""), query.get("tradingsymbol", ""))}
        if method != "POST":
            raise KiteError(405, "GeneralException", "control endpoints are POST")
        if name == "session":
            kite.add_session(body["api_key"], body["access_token"], user, body.get("api_secret", ""))
        elif name == "request_token":
            kite.apps[body["api_key"]] = body["api_secret"]
            kite.request_tokens[body["request_token"]] = (body["api_key"], user, body["access_token"])
        elif name == "expire":
            for ended in kite.expire(body.get("access_token")):
                self.hub.drop_user(ended)
        elif name == "fill":
            quantity = body.get("quantity")
            price = body.get("price")
            return {"trade": kite.fill(body["order_id"], None if quantity is None else int(quantity),
                                       None if price is None else float(price))}
        elif name == "reject":
            kite.reject(body["order_id"], str(body["reason"]))
        elif name == "cancel":
            kite.exchange_cancel(body["order_id"], str(body.get("reason") or ""))
        elif name == "trigger":
            kite.trigger(body["order_id"])
        elif name == "reject_next":
            kite.account(user).reject_next.extend(str(r) for r in body["reasons"])
        elif name == "margins":
            kite.account(user).cash = float(body["cash"])
        elif name == "trades_lag":
            kite.account(user).trades_lag = int(body["reads"])
        elif name == "overnight":
            key = (str(body["exchange"]), str(body["tradingsymbol"]), str(body["product"]))
            kite.account(user).overnight[key] = int(body["quantity"])
        elif name == "fail":
            self.failures.append({"method": body["method"], "path": body["path"], "status": int(body["status"]),
                                  "error_type": body["error_type"], "message": body["message"],
                                  "count": int(body.get("count", 1)), "after": bool(body.get("after", False))})
        elif name == "rate_limits":
            kite.limiter.enabled = bool(body["enabled"])
        elif name == "ticks":
            return {"connections": self.hub.publish_ticks([Tick.from_json(t) for t in body["ticks"]])}
        elif name == "ws/drop":
            return {"connections": self.hub.drop(str(body.get("how") or "abort"))}
        elif name == "ws/stall":
            return {"connections": self.hub.stall(bool(body.get("stalled", True)))}
        else:
            raise KiteError(404, "GeneralException", f"no control endpoint {name}")
        return {}

    # -- Kite's REST ------------------------------------------------------------------------
    def rest(self, method: str, path: str, params: dict[str, str], auth: str | None) -> Any:
        failing = next((f for f in self.failures
                        if f["count"] > 0 and f["method"] == method and path.startswith(f["path"])), None)
        if failing is None:
            return self._rest(method, path, params, auth)
        failing["count"] -= 1
        if failing["after"]:  # carried out, and the answer lost on the way back
            self._rest(method, path, params, auth)
        raise KiteError(failing["status"], failing["error_type"], failing["message"])

    def _rest(self, method: str, path: str, params: dict[str, str], auth: str | None) -> Any:
        kite = self.kite
        parts = [p for p in path.split("/") if p]
        if parts == ["session", "token"]:
            if method == "POST":
                return kite.exchange_token(params)
            if method == "DELETE":
                kite.expire(params.get("access_token"))
                return True
        user = kite.user_for_header(auth)
        writes_order = parts[:1] == ["orders"] and method in ("POST", "PUT", "DELETE")
        kite.limiter.check(user, "orders" if writes_order and method == "POST" else
                           "quote" if parts[:1] == ["quote"] else "other")
        if parts[:1] == ["orders"]:
            if method == "POST" and len(parts) == 2:
                return {"order_id": kite.place(user, parts[1], params)}
            if method == "PUT" and len(parts) == 3:
                return {"order_id": kite.modify(user, parts[1], parts[2], params)}
            if method == "DELETE" and len(parts) == 3:
                return {"order_id": kite.cancel(user, parts[1], parts[2])}
            if method == "GET" and len(parts) == 1:
                return list(kite.account(user).orders.values())
            if method == "GET" and len(parts) == 2:
                kite.order(user, parts[1])
                return kite.account(user).history[parts[1]]
            if method == "GET" and len(parts) == 3 and parts[2] == "trades":
                kite.order(user, parts[1])
                return [t for t in kite.account(user).trades if t["order_id"] == parts[1]]
        if method == "GET":
            if parts == ["trades"]:
                account = kite.account(user)
                if account.trades_lag > 0:  # the trade book behind the order book, for a read
                    account.trades_lag -= 1
                    return account.trades[:-1]
                return account.trades
            if parts == ["portfolio", "positions"]:
                return kite.positions(user)
            if parts == ["user", "margins"]:
                return kite.margins(user)
            if parts[:2] == ["user", "margins"] and len(parts) == 3:
                return kite.margins(user).get(parts[2], {})
            if parts == ["user", "profile"]:
                return {"user_id": user, "user_name": "Fake User", "broker": "ZERODHA"}
        raise KiteError(404, "GeneralException", f"Route not found: {method} {path}")


class RestResource(resource.Resource):
    isLeaf = True

    def __init__(self, fake: Fake) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.fake = fake

    def render(self, request: Any) -> bytes:
        method = request.method.decode()
        url = urlsplit(request.uri.decode())
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = request.content.read() if request.content else b""
        status, payload = 200, {}
        try:
            if url.path.startswith("/_fake/"):
                data = json.loads(body) if body else {}
                payload = {"ok": True, **self.fake.control(method, url.path[len("/_fake/"):], data, query)}
            else:
                params = dict(query)
                if method in ("POST", "PUT") and body:
                    params.update({k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()})
                data = self.fake.rest(method, url.path, params, request.getHeader("authorization"))
                payload = {"status": "success", "data": data}
        except KiteError as error:
            status = error.status
            payload = {"status": "error", "message": error.message, "error_type": error.error_type, "data": None}
        except (KeyError, ValueError, TypeError) as error:
            status = 400
            payload = {"status": "error", "message": f"bad request: {error!r}", "error_type": "InputException",
                       "data": None}
        if not url.path.startswith("/_fake/"):
            self.fake.requests.append({"method": method, "path": url.path, "status": status})
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(payload).encode()


class Root(resource.Resource):
    def __init__(self, fake: Fake) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.rest = RestResource(fake)
        self.ws = WebSocketResource(fake.hub.factory)

    def getChild(self, name: bytes, request: Any) -> Any:  # noqa: N802 (Twisted's name)
        return self.ws if name == b"ws" else self.rest

    def render(self, request: Any) -> bytes:
        result: bytes = self.rest.render(request)
        return result


def main(argv: list[str] | None = None) -> int:
    # A parent that started this process from a thread with signals blocked (Foundation's Process
    # run from a Dispatch worker does) leaves them blocked here, and SIGTERM would never arrive.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    parser = argparse.ArgumentParser(description="fake Kite Connect (REST and Kite Ticker)")
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
