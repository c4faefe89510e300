"""The fake's Kite Ticker, read through the official SDK's parser (ticker_client.py) and a raw
socket where the SDK hides the wire (heartbeats, the handshake's 403)."""
from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from pathlib import Path
from typing import Iterator

import pytest

from kite_fake_process import FakeKiteProcess, TickerClient

EQUITY = (1594 << 8) | 1                  # an NSE token (segment 1)
INDEX = 256265                            # NIFTY 50's token: segment 9, an index


@pytest.fixture()
def fake(tmp_path: Path) -> Iterator[FakeKiteProcess]:
    with FakeKiteProcess(tmp_path) as running:
        running.post("session", api_key="key1", access_token="tok1")
        yield running


def raw_connect(fake: FakeKiteProcess, token: str) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", fake.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws?api_key=key1&access_token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\nX-Kite-Version: 3\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return sock, head


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    def exact(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "connection closed"
            data += chunk
        return data
    first, second = exact(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack(">H", exact(2))[0]
    elif length == 127:
        length = struct.unpack(">Q", exact(8))[0]
    return first & 0x0F, exact(length)


def send_text(sock: socket.socket, text: str) -> None:
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    header += bytes([0x80 | 126]) + struct.pack(">H", len(payload)) if len(payload) >= 126 else bytes([0x80 | len(payload)])
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def test_ticks_in_ltp_quote_and_full_modes_as_the_sdk_parses_them(fake: FakeKiteProcess) -> None:
    clients = {mode: TickerClient(fake, "key1", "tok1", mode, [EQUITY, INDEX]) for mode in ("ltp", "quote", "full")}
    try:
        for client in clients.values():
            client.next("connect")
        # Wait until every subscription and mode request is in before publishing.
        for _ in range(100):
            if len(fake.state()["ticker_requests"]) >= 6:
                break
            time.sleep(0.05)
        tick = {"instrument_token": EQUITY, "last_price": 1500.55, "last_quantity": 7, "average_price": 1499.1,
                "volume": 12345, "buy_quantity": 100, "sell_quantity": 200, "open": 1490.0, "high": 1510.0,
                "low": 1480.0, "close": 1495.0, "last_trade_time": 1796000000, "oi": 0,
                "exchange_timestamp": 1796000001, "bids": [[10, 1500.5, 3]], "asks": [[20, 1500.6, 4]]}
        index = {"instrument_token": INDEX, "last_price": 24010.5, "open": 23950.0, "high": 24050.0,
                 "low": 23900.0, "close": 24000.0, "exchange_timestamp": 1796000002}
        assert fake.post("ticks", ticks=[tick, index])["connections"] == 3
        ltp = clients["ltp"].next("ticks")["ticks"]
        assert [(t["mode"], t["instrument_token"], t["last_price"]) for t in ltp] == [
            ("ltp", EQUITY, 1500.55), ("ltp", INDEX, 24010.5)]
        quote = clients["quote"].next("ticks")["ticks"]
        assert quote[0]["volume_traded"] == 12345 and quote[0]["ohlc"] == {
            "open": 1490.0, "high": 1510.0, "low": 1480.0, "close": 1495.0}
        assert quote[1]["ohlc"]["high"] == 24050.0 and quote[1]["tradable"] is False
        full = clients["full"].next("ticks")["ticks"]
        assert full[0]["depth"]["buy"][0] == {"quantity": 10, "price": 1500.5, "orders": 3}
        assert full[0]["depth"]["sell"][0] == {"quantity": 20, "price": 1500.6, "orders": 4}
        assert full[0]["last_traded_quantity"] == 7 and "exchange_timestamp" in full[1]
    finally:
        for client in clients.values():
            client.close()


def test_a_bad_token_is_refused_with_403_and_the_heartbeat_is_one_byte_a_second(fake: FakeKiteProcess) -> None:
    sock, head = raw_connect(fake, "wrong")
    assert head.startswith(b"HTTP/1.1 403")
    sock.close()
    sock, head = raw_connect(fake, "tok1")
    assert head.startswith(b"HTTP/1.1 101")
    opcode, payload = read_frame(sock)
    assert (opcode, payload) == (2, b"\x00")
    # The documented limit of 3,000 instruments per connection.
    send_text(sock, json.dumps({"a": "subscribe", "v": list(range(1, 3002))}))
    while True:
        opcode, payload = read_frame(sock)
        if opcode == 1:
            break
    message = json.loads(payload)
    assert message["type"] == "error" and "3000" in message["data"]
    assert len(fake.state()["ticker"][0]["modes"]) == 3000
    sock.close()


def test_order_updates_forced_disconnect_and_stall(fake: FakeKiteProcess) -> None:
    from kiteconnect import KiteConnect
    client = TickerClient(fake, "key1", "tok1", "ltp", [EQUITY])
    try:
        client.next("connect")
        kite = KiteConnect("key1", root=fake.root)
        kite.set_access_token("tok1")
        order_id = kite.place_order("regular", "NSE", "INFY", "BUY", 3, "MIS", "LIMIT", price=1500.0, tag="t1")
        update = client.next("order")["data"]
        assert (update["order_id"], update["status"], update["tag"]) == (order_id, "OPEN", "t1")
        fake.post("fill", order_id=order_id, quantity=3, price=1499.5)
        update = client.next("order")["data"]
        assert (update["status"], update["filled_quantity"], update["average_price"]) == ("COMPLETE", 3, 1499.5)
        assert fake.post("ws/stall", stalled=True)["connections"] == 1
        assert fake.post("ticks", ticks=[{"instrument_token": EQUITY, "last_price": 1.0}])["connections"] == 0
        assert fake.post("ws/stall", stalled=False)["connections"] == 1
        assert fake.post("ws/drop", how="abort")["connections"] == 1
        client.next("close")
        client.next("connect", timeout=15)  # the SDK reconnects by itself
    finally:
        client.close()
