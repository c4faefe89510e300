#!/usr/bin/env python3
"""A broker gateway written with pyzmq, for the gateway protocol tests (docs/protocol.md).

Connects a DEALER to the engine's gateway endpoint, says hello for BROKER_IDS, and then:
- answers heartbeats and sends its own every 200 ms;
- on order.new: with --drop-first, ignores the first copy of each request (no ack), so the
  engine must resend it with the same request_id and order_id; then acks it and, once per
  order_id (a repeated order_id is the same order), reports accepted and fills the order in two
  executions at its reference_price (limit price for LIMIT), each with its own exec_id; with
  --duplicate-reports every fill report is sent twice;
- on order.cancel: acks and reports cancelled; on order.modify: acks and reports modified;
- resends a report until the engine sends report.ack for it.
Runs until STOP_FILE exists, then goes silent (exits without a goodbye) and writes LOG_JSON:
{"received": [[topic, payload], ...], "acks": [payload, ...], "welcome": payload, "errors": [...]}
(the errors the engine answered two malformed messages sent right after hello with).

With --reject-first N, the first N orders are rejected by the "broker" with a reason holding a
NUL byte and a newline (as a careless broker API may send), the rest filled as above.

usage: gateway.py ENDPOINT BROKER_IDS READY_FILE STOP_FILE LOG_JSON [--drop-first] [--duplicate-reports] [--reject-first N]
"""
import json
import os
import sys
import time
import uuid

import zmq


def main() -> None:
    endpoint, brokers, ready_file, stop_file, log_path = sys.argv[1:6]
    drop_first = "--drop-first" in sys.argv
    duplicate = "--duplicate-reports" in sys.argv
    reject_first = int(sys.argv[sys.argv.index("--reject-first") + 1]) if "--reject-first" in sys.argv else 0
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(endpoint)

    def send(topic, payload):
        dealer.send_multipart([topic.encode(), json.dumps(payload).encode()])

    send("hello", {"gateway_id": "pytest-gateway", "broker_ids": brokers.split(","), "api_type": "zerodha"})
    if not dealer.poll(10000):
        sys.exit("no welcome")
    topic, payload = dealer.recv_multipart()
    if topic != b"welcome":
        sys.exit(f"expected welcome, got {topic!r}")
    welcome = json.loads(payload)
    # Malformed messages get an error reply and change nothing; the connection stays usable.
    errors = []
    dealer.send_multipart([b"report", b"not json"])
    send("report", {"type": "fill", "report_id": "r0"})
    while len(errors) < 2 and dealer.poll(5000):
        topic, payload = dealer.recv_multipart()
        if topic == b"error":
            errors.append(json.loads(payload)["error"])
        elif topic == b"welcome":  # granted later (the engine read its live brokers after our hello)
            welcome = json.loads(payload)
    open(ready_file, "w").close()

    received, acks = [], []
    seen_requests, seen_orders = set(), set()
    unacked = {}  # report_id -> (payload, last_sent)
    last_heartbeat = 0.0

    def report(payload, copies=1):
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
            if order_id in seen_orders:
                continue
            seen_orders.add(order_id)
            if len(seen_orders) <= reject_first:
                report({"type": "rejected", "order_id": order_id, "reason": "margin\x00 shortfall\nRMS"})
                continue
            report({"type": "accepted", "order_id": order_id, "broker_order_id": "B" + order_id[:8]})
            price = request["price"] if request["order_type"] == "LIMIT" else request["reference_price"]
            quantity = request["quantity"]
            first = quantity // 2 if quantity > 1 else quantity
            parts = [first, quantity - first] if quantity > first else [first]
            for n, part in enumerate(parts):
                report({"type": "fill", "order_id": order_id, "exec_id": f"{order_id}-{n}",
                        "fill_quantity": part, "fill_price": price}, copies=2 if duplicate else 1)
        elif topic == "order.cancel":
            report({"type": "cancelled", "order_id": order_id, "reason": request.get("reason")})
        else:
            report({"type": "modified", "order_id": order_id, "quantity": request["quantity"],
                    "price": request["price"], "trigger_price": request["trigger_price"]})
    with open(log_path, "w") as f:
        json.dump({"received": received, "acks": acks, "welcome": welcome, "errors": errors}, f)
    dealer.close()
    ctx.term()


if __name__ == "__main__":
    main()
