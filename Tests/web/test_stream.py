"""The WebSocket stream (/api/v1/stream): the token in the first message, then the fill and order
events the caller may see as the engine publishes them: a trader only their own, an admin every
user's; a bad token is told why and closed."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import websocket

from stack import Stack


def open_stream(stack: Stack, token: str) -> tuple[websocket.WebSocket, dict[str, Any]]:
    ws = websocket.create_connection(f"ws://127.0.0.1:{stack.http_port}/api/v1/stream", timeout=30)
    ws.send(json.dumps({"token": token}))
    hello: dict[str, Any] = json.loads(ws.recv())
    return ws, hello


def collect(ws: websocket.WebSocket, done: threading.Event, into: list[dict[str, Any]]) -> None:
    ws.settimeout(0.5)
    while not done.is_set():
        try:
            into.append(json.loads(ws.recv()))
        except websocket.WebSocketTimeoutException:
            continue
        except websocket.WebSocketConnectionClosedException:
            return


def test_a_trader_sees_only_their_events_and_an_admin_everyones(stack: Stack) -> None:
    tara_ws, hello = open_stream(stack, stack.tokens["tara"])
    assert hello["event"] == "hello" and hello["role"] == "trader"
    tara_id = hello["user_id"]
    admin_ws, admin_hello = open_stream(stack, stack.tokens["root"])
    assert admin_hello["role"] == "admin"
    tara_events: list[dict[str, Any]] = []
    admin_events: list[dict[str, Any]] = []
    done = threading.Event()
    readers = [threading.Thread(target=collect, args=(tara_ws, done, tara_events)),
               threading.Thread(target=collect, args=(admin_ws, done, admin_events))]
    for r in readers:
        r.start()
    stack.feed(count=20_000, rate=10_000)
    time.sleep(3)  # the last rounds reach the bus
    done.set()
    for r in readers:
        r.join()
    tara_ws.close()
    admin_ws.close()
    assert tara_events, "tara's strategy traded, so her stream saw events"
    assert all(e["user_id"] == tara_id for e in tara_events), {e["user_id"] for e in tara_events}
    assert {e["event"] for e in tara_events} <= {"fill", "order"}
    users = {e["user_id"] for e in admin_events}
    assert tara_id in users and len(users) == 2, users
    fills = [e for e in tara_events if e["event"] == "fill"]
    assert fills and all(isinstance(e["fill_price"], (int, float)) for e in fills)
    # Every event a subscriber saw is in the API's answers too.
    orders = {o["trade_id"] for o in stack.call("GET", "/api/v1/orders?limit=1000", token=stack.tokens["tara"]).json()}
    assert {e["trade_id"] for e in tara_events} <= orders


def test_a_bad_token_is_told_why_and_closed(stack: Stack) -> None:
    ws, answer = open_stream(stack, "not-a-token")
    assert answer["event"] == "error" and answer["error"]["code"] == "unauthorized", answer
    ws.settimeout(5)
    try:
        ws.recv()
        closed = ws.getstatus() is not None or not ws.connected
    except websocket.WebSocketConnectionClosedException:
        closed = True
    assert closed
