#!/usr/bin/env python3
"""A local fake of ICICI Direct Breeze: its REST API (as breeze-connect calls it), the security
master download, and the socket.io quote stream and order notifications (fake_icici_stream.py)
on one port, run as its own process like fake_angel.py:

    python brokers/python/tests/fake_icici.py --port 0 --ready-file F

writes the port N to F once it listens on 127.0.0.1:N. REST is at
``http://127.0.0.1:N/breezeapi/api/v1/`` (the SDK's ``config.API_URL``), the security master at
``/MotherAppMaster/SecurityMaster.zip``, socket.io at ``/socket.io`` (quotes: the root URL; order
notifications: the root URL with ``?feed=orders``). The rules and where their facts come from
are in fake_icici_exchange.py and fake_icici_stream.py.

REST: every call's body is JSON (GETs too, as the SDK sends them). ``customerdetails`` takes
``{SessionToken, AppKey}`` unsigned; every other call must be signed (X-Checksum, X-Timestamp,
X-AppKey, X-SessionToken). Answers ``{"Success": ..., "Status": 200, "Error": null}``; errors
``{"Success": null, "Status": <code>, "Error": "<text>"}`` over HTTP 200 (429 past the rate).
Routes: GET customerdetails; POST/PUT/DELETE/GET order (GET with ``order_id``: one order's
detail; else the list of an exchange); GET trades (with ``order_id``: its fills with trade ids;
else the trade list); GET portfoliopositions; GET funds; GET quotes.

Control endpoints (the tests' hands; JSON bodies, answers ``{"ok": true, ...}``):
- ``POST /_fake/account`` ``{api_key, api_secret, user_id, api_session}``: an account whose login
  (customerdetails) takes that api_session.
- ``POST /_fake/session`` ``{api_key, api_secret, user_id, session_key}``: a live session
  without a login; answers ``{session_token}`` (what the engine would store).
- ``POST /_fake/expire`` ``{api_key?}``: ends the session(s); REST then answers "Session key is
  expired.", socket connections of it end, customerdetails answers "Resource not available.".
- ``POST /_fake/fill`` ``{order_id, quantity?, price?}``, ``/_fake/end`` ``{order_id, status}``
  (Cancelled, Rejected, Expired: the exchange's doing), ``/_fake/reject_next`` ``{api_key, count}``.
- ``POST /_fake/quote`` ``{exchange, stock_code, ltp}``: what quotes answers (the SDK's market
  orders are priced from it).
- ``POST /_fake/security`` ``{exchange, rows: [{column: value}]}``: rows added to that file of
  the security master.
- ``POST /_fake/funds`` ``{api_key, cash}``; ``/_fake/rate_limits`` ``{enabled}``.
- ``POST /_fake/fail`` ``{method, path, status, error, count?=1, after?=false, raw?, http?=200}``.
- ``POST /_fake/stream/ticks`` ``{ticks}``, ``/_fake/stream/drop`` ``{how?, feed?}``,
  ``/_fake/orders/drop``: socket commands (fake_icici_stream.StreamHub).
- ``GET /_fake/state``: ``{orders: [order detail rows + user_id], trades: [...], requests:
  [{method, path, status, error, body}], stream: StreamHub.state()}``.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import signal
import sys
import zipfile
from pathlib import Path
from typing import Any, Awaitable, Callable

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_icici_exchange import Account, BreezeError, FakeIcici, Order  # noqa: E402
from fake_icici_stream import StreamHub  # noqa: E402

API = "/breezeapi/api/v1/"
SECURITY_MASTER = "/MotherAppMaster/SecurityMaster.zip"
CASH_COLUMNS = ["Token", "ShortName", "Series", "CompanyName", "ticksize", "Lotsize", "ExchangeCode"]
FNO_COLUMNS = ["Token", "InstrumentName", "ShortName", "Series", "ExpiryDate", "StrikePrice", "OptionType", "LotSize",
               "TickSize", "CompanyName", "ExchangeCode"]
FILES = {"NSE": "NSEScripMaster.txt", "BSE": "BSEScripMaster.txt", "NFO": "FONSEScripMaster.txt",
         "BFO": "FOBSEScripMaster.txt"}
DEFAULT_ROWS: dict[str, list[dict[str, str]]] = {
    "NSE": [{"Token": "2885", "ShortName": "RELIND", "Series": "EQ", "CompanyName": "RELIANCE INDUSTRIES",
             "ticksize": "0.1", "Lotsize": "1", "ExchangeCode": "RELIANCE"},
            {"Token": "1594", "ShortName": "INFTEC", "Series": "EQ", "CompanyName": "INFOSYS LIMITED",
             "ticksize": "0.1", "Lotsize": "1", "ExchangeCode": "INFY"},
            {"Token": "3045", "ShortName": "STABAN", "Series": "EQ", "CompanyName": "STATE BANK OF INDIA",
             "ticksize": "0.05", "Lotsize": "1", "ExchangeCode": "SBIN"}],
    "BSE": [{"Token": "500325", "ShortName": "RELIND", "Series": "A", "CompanyName": "RELIANCE INDUSTRIES",
             "ticksize": "0.05", "Lotsize": "1", "ExchangeCode": "RELIANCE"}],
    "NFO": [{"Token": "53001", "InstrumentName": "FUTIDX", "ShortName": "NIFTY", "Series": "FUTURE",
             "ExpiryDate": "29-Dec-2026", "StrikePrice": "0", "OptionType": "XX", "LotSize": "75", "TickSize": "0.1",
             "CompanyName": "NIFTY 50", "ExchangeCode": "NIFTY"},
            {"Token": "53002", "InstrumentName": "OPTIDX", "ShortName": "NIFTY", "Series": "OPTION",
             "ExpiryDate": "29-Dec-2026", "StrikePrice": "24000", "OptionType": "CE", "LotSize": "75",
             "TickSize": "0.05", "CompanyName": "NIFTY 50", "ExchangeCode": "NIFTY"},
            {"Token": "53003", "InstrumentName": "OPTIDX", "ShortName": "NIFTY", "Series": "OPTION",
             "ExpiryDate": "22-Dec-2026", "StrikePrice": "24000", "OptionType": "PE", "LotSize": "75",
             "TickSize": "0.05", "CompanyName": "NIFTY 50", "ExchangeCode": "NIFTY"}],
}
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class Securities:
    """The security master the fake serves, and the lookups its order checks use."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, str]]] = {k: [dict(r) for r in v] for k, v in DEFAULT_ROWS.items()}

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for exchange, rows in self.rows.items():
                columns = CASH_COLUMNS if exchange in ("NSE", "BSE") else FNO_COLUMNS
                text = io.StringIO()
                # ICICI's header is quoted with a space after each comma (the real file's quirk).
                text.write(", ".join(f'"{c}"' for c in columns) + "\n")
                writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
                for row in rows:
                    writer.writerow([row.get(c, "") for c in columns])
                archive.writestr(FILES[exchange], text.getvalue())
        return buffer.getvalue()

    def find_code(self, exchange: str, stock: str, expiry: str | None, strike: float, right: str) -> dict[str, Any] | None:
        from datetime import datetime
        for row in self.rows.get(exchange, []):
            if row.get("ShortName", "").upper() != stock.upper():
                continue
            if exchange in ("NSE", "BSE"):
                return {"lot": int(row.get("Lotsize") or 1)}
            row_expiry = datetime.strptime(row["ExpiryDate"], "%d-%b-%Y").date().isoformat()
            kind = row["InstrumentName"][:3]
            if row_expiry != expiry:
                continue
            if kind == "FUT" and right == "others":
                return {"lot": int(row.get("LotSize") or 1)}
            if kind == "OPT" and float(row["StrikePrice"]) == strike and \
                    {"CE": "call", "PE": "put"}.get(row["OptionType"]) == right:
                return {"lot": int(row.get("LotSize") or 1)}
        return None


class Fake:
    def __init__(self) -> None:
        self.securities = Securities()
        self.stream = StreamHub(lambda user, token: self.icici.live(user, token))
        self.icici = FakeIcici(self._order_changed)
        self.requests: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    def _order_changed(self, order: Order) -> None:
        """An ``order`` notification (the list parse_data reads) to the user's order feeds."""
        fields = [""] * 47
        fields[2], fields[11], fields[13], fields[14] = order.user_id, "4" if order.exchange in ("NSE", "BSE") else "6", \
            order.exchange, order.stock_code
        status_letters = {"Ordered": "O", "Executed": "E", "Cancelled": "C", "Rejected": "R", "Expired": "X"}
        fields[20] = status_letters.get(order.status, "O")
        fields[23], fields[24] = order.order_id, str(order.quantity)
        fields[25], fields[26] = str(order.quantity - order.filled), str(order.filled)
        # Orders change only in the REST and control handlers, which run on the server's loop.
        task = asyncio.get_running_loop().create_task(self.stream.publish_order(order.user_id, fields))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- control -------------------------------------------------------------------------------
    async def control(self, method: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        icici = self.icici
        if method == "GET" and name == "state":
            return {"orders": [dict(icici.detail(o), user_id=o.user_id) for o in icici.orders.values()],
                    "trades": [{"order_id": t.order.order_id, "trade_id": t.trade_id, "quantity": t.quantity,
                                "price": t.price} for t in icici.trades],
                    "requests": self.requests, "stream": self.stream.state()}
        if method != "POST":
            raise BreezeError(405, "control endpoints are POST")
        if name == "account":
            icici.add_account(str(body["api_key"]), str(body["api_secret"]), str(body["user_id"]), str(body["api_session"]))
        elif name == "session":
            icici.session(str(body["api_key"]), str(body["user_id"]), str(body["session_key"]))
            icici.accounts[str(body["api_key"])].api_secret = str(body["api_secret"])
            import base64
            return {"session_token": base64.b64encode(f"{body['user_id']}:{body['session_key']}".encode()).decode()}
        elif name == "expire":
            ended = icici.expire(body.get("api_key"))
            return {"expired": len(ended), "connections": self.stream.drop_sessions(ended)}
        elif name == "fill":
            quantity, price = body.get("quantity"), body.get("price")
            trade = icici.fill(str(body["order_id"]), None if quantity is None else int(quantity),
                               None if price is None else float(price))
            return {"trade_id": trade.trade_id}
        elif name == "end":
            icici.end(str(body["order_id"]), str(body["status"]))
        elif name == "reject_next":
            icici.accounts[str(body["api_key"])].reject_next += int(body.get("count", 1))
        elif name == "quote":
            icici.quotes[(str(body["exchange"]).upper(), str(body["stock_code"]))] = float(body["ltp"])
        elif name == "security":
            self.securities.rows.setdefault(str(body["exchange"]), []).extend(dict(r) for r in body["rows"])
        elif name == "funds":
            icici.accounts[str(body["api_key"])].cash = float(body["cash"])
        elif name == "rate_limits":
            icici.rate_limits = bool(body["enabled"])
        elif name == "fail":
            self.failures.append({"method": str(body["method"]), "path": str(body["path"]), "status": int(body["status"]),
                                  "error": str(body.get("error") or ""), "count": int(body.get("count", 1)),
                                  "after": bool(body.get("after", False)), "raw": body.get("raw"),
                                  "http": int(body.get("http", 200))})
        elif name == "stream/ticks":
            return await self.stream.publish_ticks(list(body["ticks"]))
        elif name == "stream/drop":
            return {"connections": await self.stream.drop(str(body.get("how") or "abort"), body.get("feed"))}
        else:
            raise BreezeError(404, f"no control endpoint {name}")
        return {}

    # -- Breeze REST ---------------------------------------------------------------------------
    def rest(self, method: str, endpoint: str, raw: str, headers: dict[str, str]) -> Any:
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            raise BreezeError(500, "Request body is not JSON") from None
        if not isinstance(body, dict):
            raise BreezeError(500, "Request body is not a JSON object")
        if endpoint == "customerdetails" and method == "GET":
            return self.icici.customer_details(body)
        account = self.icici.authenticate(headers, raw)
        return self._signed(method, endpoint, body, account)

    def _signed(self, method: str, endpoint: str, body: dict[str, Any], account: Account) -> Any:
        icici = self.icici
        if endpoint == "order":
            if method == "POST":
                return icici.place(account, body, self.securities)
            if method == "PUT":
                return icici.modify(account, body)
            if method == "DELETE":
                return icici.cancel(account, body)
            return icici.order_list(account, body)
        if endpoint == "trades" and method == "GET":
            return icici.trade_list(account, body)
        if endpoint == "portfoliopositions" and method == "GET":
            return icici.positions(account)
        if endpoint == "funds" and method == "GET":
            return icici.funds(account)
        if endpoint == "quotes" and method == "GET":
            return icici.quote(body)
        raise BreezeError(404, f"Resource not found: {method} {endpoint}")

    # -- ASGI ----------------------------------------------------------------------------------
    async def app(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks).decode("utf-8", errors="replace")
        path, method = scope["path"], scope["method"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        http, content_type, out = 200, b"application/json", b""
        record: dict[str, Any] | None = None
        try:
            if path.startswith("/_fake/"):
                data = json.loads(raw) if raw else {}
                out = json.dumps({"ok": True, **await self.control(method, path[len("/_fake/"):], data)}).encode()
            elif path == SECURITY_MASTER and method == "GET":
                content_type, out = b"application/zip", self.securities.zip_bytes()
            elif path.startswith(API):
                endpoint = path[len(API):]
                record = {"method": method, "path": endpoint, "status": 200, "error": "", "body": raw}
                out = json.dumps({"Success": self._answer(method, endpoint, raw, headers), "Status": 200,
                                  "Error": None}).encode()
            else:
                http, out = 404, b'{"Success": null, "Status": 404, "Error": "Not found"}'
        except Injected as injected:
            f = injected.failure
            http = f["http"]
            if record is not None:
                record.update(status=f["status"], error=f["error"])
            if f["raw"] is not None:
                content_type, out = b"text/html", str(f["raw"]).encode()
            else:
                out = json.dumps({"Success": None, "Status": f["status"], "Error": f["error"]}).encode()
        except BreezeError as error:
            http = error.http
            if record is not None:
                record.update(status=error.status, error=error.message)
            out = json.dumps({"Success": None, "Status": error.status, "Error": error.message}).encode()
        except (KeyError, ValueError, TypeError) as error:
            if record is not None:
                record.update(status=500, error=repr(error))
            out = json.dumps({"Success": None, "Status": 500, "Error": f"bad request: {error!r}"}).encode()
        if record is not None:
            self.requests.append(record)
        await send({"type": "http.response.start", "status": http,
                    "headers": [(b"content-type", content_type), (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    def _answer(self, method: str, endpoint: str, raw: str, headers: dict[str, str]) -> Any:
        failing = next((f for f in self.failures if f["count"] > 0 and f["method"] == method
                        and endpoint.startswith(f["path"])), None)
        if failing is None:
            with self.icici.lock:
                return self.rest(method, endpoint, raw, headers)
        failing["count"] -= 1
        if failing["after"]:  # carried out, and the answer lost on the way back
            try:
                with self.icici.lock:
                    self.rest(method, endpoint, raw, headers)
            except BreezeError:
                pass
        raise Injected(failing)


class Injected(Exception):
    def __init__(self, failure: dict[str, Any]) -> None:
        super().__init__(failure["error"])
        self.failure = failure


def main(argv: list[str] | None = None) -> int:
    # A parent that started this process from a thread with signals blocked (Foundation's Process
    # run from a Dispatch worker does) leaves them blocked here, and SIGTERM would never arrive.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    parser = argparse.ArgumentParser(description="fake ICICI Direct Breeze (REST, security master, socket.io)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", type=Path, required=True)
    args = parser.parse_args(argv)
    fake = Fake()
    config = uvicorn.Config(fake.stream.asgi_app(fake.app), host="127.0.0.1", port=args.port, log_level="warning",
                            ws="wsproto", lifespan="on")
    server = uvicorn.Server(config)

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        tmp = args.ready_file.with_suffix(".tmp")
        tmp.write_text(str(port))
        tmp.rename(args.ready_file)  # whole or absent: a reader never sees half a file
        await task

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
