#!/usr/bin/env python3
"""A broker gateway written with pyzmq, for the gateway protocol tests (docs/protocol.md).

Connects a DEALER to the engine's gateway endpoint, says hello for BROKER_IDS, and then:
- answers heartbeats and sends its own every 200 ms;
- answers reconcile.request with a snapshot of its "broker" (the orders it placed, their
  executions and the net positions they make), and writes READY_FILE once the engine said
  reconcile.done for every broker it was granted (or at once when granted none);
- on order.new: with --drop-first, ignores the first copy of each request (no ack), so the
  engine must resend it with the same request_id and order_id; then acks it and, once per
  order_id (a repeated order_id is the same order), reports accepted and fills the order in two
  executions at its reference_price (limit price for LIMIT), each with its own exec_id; with
  --duplicate-reports every fill report is sent twice; with --no-fill the order stays OPEN;
- on order.cancel: acks and reports cancelled; on order.modify: acks and reports modified;
- resends a report until the engine sends report.ack for it.
Runs until STOP_FILE exists, then goes silent (exits without a goodbye) and writes LOG_JSON:
{"received": [[topic, payload], ...], "acks": [payload, ...], "welcome": payload, "errors": [...],
 "reconciled": [reconcile.done payloads]} (errors: the engine's answers to two malformed
messages sent right after hello).

With --reject-first N, the first N orders are rejected by the "broker" with a reason holding a
NUL byte and a newline (as a careless broker API may send), the rest filled as above.

The broker's book survives the process with --book FILE (read at start, written at the stop):
a restarted gateway knows what its broker did, as a real broker account does. At start,
--await-grant makes READY wait until every broker asked for is granted (an engine still reading
its live brokers refuses them at first). --fill-working fills every OPEN order in the book at its price without reporting it (the broker
filled it while the engine or the gateway was away: only the reconciliation can tell the
engine); --unknown-order SYMBOL:QTY adds a filled BUY the engine never placed (a hand-placed
order); --position-offset SYMBOL:QTY changes the broker's position by QTY with no order to
explain it.

--expire-session REASON: right after READY_FILE, says its broker's session token expired
(`session` message), as a gateway does when the broker answers TokenException.
--feed INSTRUMENTS: connects as a market-data publisher instead (hello `role: feed` with the
comma-separated "EXCHANGE:SYMBOL" INSTRUMENTS): no reconciliation; READY_FILE at the welcome.

usage: gateway.py ENDPOINT BROKER_IDS READY_FILE STOP_FILE LOG_JSON [options above]
"""
import json
import os
import signal
import sys
import time
import uuid
from typing import Any

import zmq


def option(name: str, default: str | None = None) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


class Book:
    """What the stand-in broker holds: orders by the engine's order_id, executions, offsets."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        data: dict[str, Any] = {"orders": {}, "executions": [], "offsets": {}}
        if path and os.path.exists(path):
            with open(path) as f:
                data = json.load(f)
        self.orders: dict[str, dict[str, Any]] = data["orders"]
        self.executions: list[dict[str, Any]] = data["executions"]
        self.offsets: dict[str, int] = data["offsets"]

    def save(self) -> None:
        if self.path:
            with open(self.path, "w") as f:
                json.dump({"orders": self.orders, "executions": self.executions, "offsets": self.offsets}, f)

    def place(self, request: dict[str, Any]) -> dict[str, Any]:
        order = {"broker_order_id": "B" + request["order_id"][:8] + request["order_id"][-4:], "order_id": request["order_id"],
                 "status": "OPEN", "symbol": request["symbol"], "exchange": request["exchange"],
                 "transaction_type": request["transaction_type"], "quantity": request["quantity"], "filled_quantity": 0,
                 "price": request["price"], "trigger_price": request["trigger_price"],
                 "fill_at": request["price"] if request["order_type"] == "LIMIT" else request["reference_price"]}
        self.orders[request["order_id"]] = order
        return order

    def fill(self, order: dict[str, Any], quantity: int, price: Any, exec_id: str) -> dict[str, Any]:
        order["filled_quantity"] += quantity
        order["status"] = "FILLED" if order["filled_quantity"] == order["quantity"] else "PARTIALLY_FILLED"
        execution = {"exec_id": exec_id, "broker_order_id": order["broker_order_id"], "order_id": order["order_id"],
                     "symbol": order["symbol"], "exchange": order["exchange"], "transaction_type": order["transaction_type"],
                     "fill_quantity": quantity, "fill_price": price}
        self.executions.append(execution)
        return execution

    def snapshot(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        net: dict[tuple[str, str], int] = {}
        for e in self.executions:
            key = (e["symbol"], e["exchange"])
            net[key] = net.get(key, 0) + (e["fill_quantity"] if e["transaction_type"] == "BUY" else -e["fill_quantity"])
        for name, qty in self.offsets.items():
            symbol, exchange = name.split("|")
            net[(symbol, exchange)] = net.get((symbol, exchange), 0) + qty
        orders = [{k: v for k, v in o.items() if k != "fill_at"} for o in self.orders.values()]
        positions = [{"symbol": s, "exchange": x, "product": "MIS", "quantity": q} for (s, x), q in sorted(net.items()) if q != 0]
        # In parts under 64 KiB each, as the protocol requires: a larger message makes the
        # engine's libzmq drop the connection.
        parts: list[dict[str, list[Any]]] = [{"orders": [], "executions": [], "positions": []}]
        size = 0
        for name, items in (("orders", orders), ("executions", self.executions), ("positions", positions)):
            for item in items:
                length = len(json.dumps(item)) + 2
                if size + length > 60_000:
                    parts.append({"orders": [], "executions": [], "positions": []})
                    size = 0
                parts[-1][name].append(item)
                size += length
        return [{"request_id": request["request_id"], "broker_id": request["broker_id"], "part": n, "parts": len(parts), **lists}
                for n, lists in enumerate(parts, start=1)]


def main() -> None:
    # A parent that started this process from a thread with signals blocked (Foundation's Process
    # run from a Dispatch worker does) leaves them blocked here, and SIGTERM would never arrive.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    endpoint, brokers, ready_file, stop_file, log_path = sys.argv[1:6]
    drop_first = "--drop-first" in sys.argv
    duplicate = "--duplicate-reports" in sys.argv
    no_fill = "--no-fill" in sys.argv
    reject_first = int(option("--reject-first", "0") or 0)
    book = Book(option("--book"))
    if "--fill-working" in sys.argv:
        for order in book.orders.values():
            if order["status"] in ("OPEN", "PARTIALLY_FILLED"):
                book.fill(order, order["quantity"] - order["filled_quantity"], order["fill_at"], order["order_id"] + "-away")
    if unknown := option("--unknown-order"):
        symbol, qty = unknown.split(":")
        hand = {"broker_order_id": "HAND" + uuid.uuid4().hex[:8], "order_id": None, "status": "FILLED", "symbol": symbol,
                "exchange": "NSE", "transaction_type": "BUY", "quantity": int(qty), "filled_quantity": 0, "price": None,
                "trigger_price": None, "fill_at": 1}
        book.orders[hand["broker_order_id"]] = hand
        book.fill(hand, int(qty), 100, hand["broker_order_id"] + "-1")
    if offset := option("--position-offset"):
        symbol, qty = offset.split(":")
        book.offsets[symbol + "|NSE"] = book.offsets.get(symbol + "|NSE", 0) + int(qty)

    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(endpoint)

    def send(topic: str, payload: dict[str, Any]) -> None:
        dealer.send_multipart([topic.encode(), json.dumps(payload).encode()])

    reconciled: list[dict[str, Any]] = []
    pending_reconcile: set[str] = set()
    received: list[list[str]] = []

    def reconcile_traffic(topic: bytes, payload: bytes) -> bool:
        """Answers reconcile.request and records reconcile.done; False for any other message."""
        if topic.startswith(b"reconcile."):
            received.append([topic.decode(), payload.decode()])
        if topic == b"reconcile.request":
            for part in book.snapshot(json.loads(payload)):
                send("reconcile", part)
            return True
        if topic == b"reconcile.done":
            done = json.loads(payload)
            reconciled.append(done)
            pending_reconcile.discard(done["broker_id"])
            return True
        return False

    hello: dict[str, Any] = {"gateway_id": "pytest-gateway", "broker_ids": brokers.split(","), "api_type": "zerodha"}
    feed = option("--feed")
    if feed:
        hello.update(role="feed", instruments=feed.split(","))
    send("hello", hello)
    if not dealer.poll(10000):
        sys.exit("no welcome")
    topic, payload = dealer.recv_multipart()
    if topic != b"welcome":
        sys.exit(f"expected welcome, got {topic!r}")
    welcome = json.loads(payload)
    # With --await-grant, READY waits (up to 15 s) until every broker asked for is granted: an
    # engine still reading its live brokers refuses them in the first welcome and grants them in
    # a later one.
    undecided = set(hello["broker_ids"]) if "--await-grant" in sys.argv else set()

    def decided(welcome: dict[str, Any]) -> None:
        undecided.difference_update(welcome["broker_ids"])
        if not feed:
            pending_reconcile.update(welcome["broker_ids"])

    decided(welcome)
    # Malformed messages get an error reply and change nothing; the connection stays usable.
    errors = []
    dealer.send_multipart([b"report", b"not json"])
    send("report", {"type": "fill", "report_id": "r0"})
    deadline = time.time() + 15
    while (len(errors) < 2 or pending_reconcile or undecided) and time.time() < deadline:
        if not dealer.poll(200):
            send("heartbeat", {})
            continue
        topic, payload = dealer.recv_multipart()
        if topic == b"error":
            errors.append(json.loads(payload)["error"])
        elif topic == b"welcome":  # granted later (the engine read its live brokers after our hello)
            welcome = json.loads(payload)
            decided(welcome)
        else:
            reconcile_traffic(topic, payload)
    open(ready_file, "w").close()
    if reason := option("--expire-session"):
        for broker in welcome["broker_ids"]:
            send("session", {"broker_id": broker, "status": "expired", "reason": reason})

    acks: list[dict[str, Any]] = []
    seen_requests = set()
    unacked: dict[str, tuple[dict[str, Any], float]] = {}
    last_heartbeat = 0.0

    def report(payload: dict[str, Any], copies: int = 1) -> None:
        payload["report_id"] = str(uuid.uuid4())
        for _ in range(copies):
            send("report", payload)
        unacked[payload["report_id"]] = (payload, time.time())

    while not os.path.exists(stop_file):
        now = time.time()
        if now - last_heartbeat > 0.2:
            send("heartbeat", {})
            last_heartbeat = now
        for report_id, (payload, sent) in list(unacked.items()):
            if now - sent > 1.0:
                send("report", payload)
                unacked[report_id] = (payload, now)
        if not dealer.poll(20):
            continue
        topic, body = dealer.recv_multipart()
        if reconcile_traffic(topic, body):
            continue
        topic = topic.decode()
        if topic == "heartbeat":
            continue
        if topic == "report.ack":
            ack = json.loads(body)
            acks.append(ack)
            unacked.pop(ack["report_id"], None)
            continue
        received.append([topic, body.decode()])
        request = json.loads(body)
        if topic not in ("order.new", "order.cancel", "order.modify"):
            continue
        if drop_first and request["request_id"] not in seen_requests:
            seen_requests.add(request["request_id"])
            continue
        send("ack", {"request_id": request["request_id"]})
        order_id = request["order_id"]
        if topic == "order.new":
            if order_id in book.orders:
                continue
            order = book.place(request)
            if len(book.orders) <= reject_first:
                order["status"] = "REJECTED"
                report({"type": "rejected", "order_id": order_id, "reason": "margin\x00 shortfall\nRMS"})
                continue
            report({"type": "accepted", "order_id": order_id, "broker_order_id": order["broker_order_id"]})
            if no_fill:
                continue
            quantity = request["quantity"]
            first = quantity // 2 if quantity > 1 else quantity
            parts = [first, quantity - first] if quantity > first else [first]
            for n, part in enumerate(parts):
                execution = book.fill(order, part, order["fill_at"], f"{order_id}-{n}")
                report({"type": "fill", "order_id": order_id, "exec_id": execution["exec_id"],
                        "fill_quantity": part, "fill_price": order["fill_at"]}, copies=2 if duplicate else 1)
        elif topic == "order.cancel":
            if order_id in book.orders:
                book.orders[order_id]["status"] = "CANCELLED"
            report({"type": "cancelled", "order_id": order_id, "reason": request.get("reason")})
        else:
            if order_id in book.orders:
                book.orders[order_id].update(quantity=request["quantity"] or book.orders[order_id]["quantity"],
                                             price=request["price"], trigger_price=request["trigger_price"])
            report({"type": "modified", "order_id": order_id, "quantity": request["quantity"],
                    "price": request["price"], "trigger_price": request["trigger_price"]})
    book.save()
    with open(log_path, "w") as f:
        json.dump({"received": received, "acks": acks, "welcome": welcome, "errors": errors, "reconciled": reconciled}, f)
    dealer.close()
    ctx.term()


if __name__ == "__main__":
    main()
