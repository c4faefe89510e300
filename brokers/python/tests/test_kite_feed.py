"""The Kite publisher as it runs (``python -m algotrader_brokers feed``, its own process) against
the fake Kite Connect (fake_kite.py) and a fake engine ROUTER that answers its hello with the
credentials and the instrument tokens, read through a ZeroMQ SUB as the engine reads it: ticks
mapped and delivered exactly once with seq rising by one, a dropped connection reconnected and
resubscribed, a silent one detected, more than 3,000 instruments over two Kite connections, a
refused token reported to the engine and the stream back with a renewed one; the token never
in the log."""
from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from fake_kite_exchange import instrument_token
from impostor_tls import ImpostorTLS
from kite_fake_process import FakeKiteProcess
from kite_feed_process import API_KEY, BROKER, FeedProcess, TickReader, engine_for, feed_welcome

TOKEN = "kitetoken-7Hq2VZ-SECRET"
RENEWED = "kitetoken-renewed-9xK-SECRET"
INFY = instrument_token("NSE", "INFY")
FUT = instrument_token("NFO", "NIFTY26DECFUT")
USDINR = instrument_token("CDS", "USDINR26DECFUT")
EXCHANGE_TIME = 1796000001


class Rig:
    def __init__(self, directory: Path, fake: FakeKiteProcess) -> None:
        self.directory, self.fake = directory, fake
        self.engine = engine_for(TOKEN, unknown=frozenset({"NSE:NOSUCH"}))
        self.feed: FeedProcess | None = None
        self.reader: TickReader | None = None

    def start(self, instruments: list[str], **kwargs: Any) -> tuple[FeedProcess, TickReader]:
        self.feed = FeedProcess(self.directory, engine=self.engine.endpoint, ws_root=self.fake.ws_root,
                                instruments=instruments, **kwargs)
        self.reader = TickReader(self.feed.publish)
        self.feed.wait_line(r"a subscriber joined \(prefix 'tick\.'\)")
        return self.feed, self.reader

    def ticks(self, *ticks: dict[str, Any]) -> None:
        assert self.fake.post("ticks", ticks=list(ticks))["connections"] >= 1

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.feed is not None:
            self.feed.stop()
        self.engine.close()


@pytest.fixture()
def rig(tmp_path: Path) -> Iterator[Rig]:
    with FakeKiteProcess(tmp_path) as fake:
        fake.post("session", api_key=API_KEY, access_token=TOKEN)
        running = Rig(tmp_path, fake)
        try:
            yield running
        finally:
            running.close()


def subscriptions(fake: FakeKiteProcess) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = fake.state()["ticker_requests"]
    return requests


def assert_no_secret(feed: FeedProcess, *secrets: str) -> None:
    text = feed.log() + feed.config.read_text()
    for secret in secrets:
        assert secret not in text
    # Nor on the command line (anyone on the host can read it).
    cmdline = Path(f"/proc/{feed.process.pid}/cmdline")
    if cmdline.exists():
        assert not any(s.encode() in cmdline.read_bytes() for s in secrets)


def test_ticks_arrive_mapped_from_the_instrument_master_exactly_once_with_seq_rising_by_one(rig: Rig) -> None:
    feed, reader = rig.start(["NSE:INFY", "NFO:NIFTY26DECFUT", "CDS:USDINR26DECFUT", "NSE:NOSUCH"])
    feed.wait_line(r"subscribed 3 instrument\(s\) in full mode")
    feed.wait_line("NSE:NOSUCH is not in the engine's instrument master")
    hello = rig.engine.wait_for("hello")[0]
    assert (hello["role"], hello["gateway_id"], hello["broker_ids"], hello["api_type"]) == (
        "feed", "kite-feed-test", [BROKER], "zerodha")
    assert hello["instruments"] == ["NSE:INFY", "NFO:NIFTY26DECFUT", "CDS:USDINR26DECFUT", "NSE:NOSUCH"]
    assert sorted(int(t) for t in rig.fake.state()["ticker"][0]["modes"]) == sorted([INFY, FUT, USDINR])
    assert set(rig.fake.state()["ticker"][0]["modes"].values()) == {"full"}
    assert_no_secret(feed, TOKEN)

    rig.ticks({"instrument_token": INFY, "last_price": 1500.55, "last_quantity": 7, "volume": 12345,
               "exchange_timestamp": EXCHANGE_TIME, "bids": [[10, 1500.5, 3]], "asks": [[20, 1500.6, 4]]},
              {"instrument_token": FUT, "last_price": 24100.05, "last_quantity": 75, "volume": 900, "oi": 1250000,
               "exchange_timestamp": EXCHANGE_TIME + 1},
              {"instrument_token": USDINR, "last_price": 83.2525, "last_quantity": 1, "volume": 40,
               "exchange_timestamp": EXCHANGE_TIME + 2},
              # Not exactly representable (7 decimals): not published, counted.
              {"instrument_token": USDINR, "last_price": 83.2525001, "volume": 41, "exchange_timestamp": EXCHANGE_TIME + 3})
    # The same INFY snapshot again with only the depth changed: no new volume, qty 0.
    rig.ticks({"instrument_token": INFY, "last_price": 1500.55, "last_quantity": 7, "volume": 12345,
               "exchange_timestamp": EXCHANGE_TIME + 4, "bids": [[12, 1500.5, 3]], "asks": [[20, 1500.6, 4]]})
    got = reader.read(4)
    session = got[0][1]["session"]
    assert uuid.UUID(session) and all(p["session"] == session and p["src"] == "kite-feed-test" for _, p in got)
    assert [p["seq"] for _, p in got] == [0, 1, 2, 3]
    assert [t for t, _ in got] == ["tick.NSE.INFY", "tick.NFO.NIFTY26DECFUT", "tick.CDS.USDINR26DECFUT", "tick.NSE.INFY"]
    strip = [{k: v for k, v in p.items() if k not in ("src", "session", "seq")} for _, p in got]
    assert strip == [
        {"symbol": "INFY", "exchange": "NSE", "ts": EXCHANGE_TIME * 10**9, "price": 1500.55, "volume": 12345,
         "qty": 7, "oi": 0, "bid": 1500.5, "bid_qty": 10, "ask": 1500.6, "ask_qty": 20},
        {"symbol": "NIFTY26DECFUT", "exchange": "NFO", "ts": (EXCHANGE_TIME + 1) * 10**9, "price": 24100.05,
         "volume": 900, "qty": 75, "oi": 1250000},
        {"symbol": "USDINR26DECFUT", "exchange": "CDS", "ts": (EXCHANGE_TIME + 2) * 10**9, "price": 83.2525,
         "volume": 40, "qty": 1, "oi": 0},
        {"symbol": "INFY", "exchange": "NSE", "ts": (EXCHANGE_TIME + 4) * 10**9, "price": 1500.55, "volume": 12345,
         "qty": 0, "oi": 0, "bid": 1500.5, "bid_qty": 12, "ask": 1500.6, "ask_qty": 20}]
    assert reader.quiet(0.5) == []  # exactly once
    assert feed.stop() == 0
    final = feed.status()
    assert (final["received"], final["published"], final["rejected"], final["seq"]) == (5, 4, 1, 4)
    assert feed.wait_line(r"not published \(inexact_price")
    assert_no_secret(feed, TOKEN)


def test_a_dropped_connection_is_reconnected_and_resubscribed_and_ticks_resume(rig: Rig) -> None:
    feed, reader = rig.start(["NSE:INFY", "NFO:NIFTY26DECFUT"], mode="quote")
    feed.wait_line(r"subscribed 2 instrument\(s\) in quote mode")
    rig.ticks({"instrument_token": INFY, "last_price": 1500.0, "volume": 10, "last_quantity": 10})
    assert [p["seq"] for _, p in reader.read(1)] == [0]
    for number, how in enumerate(("abort", "close"), start=1):
        before = len(subscriptions(rig.fake))
        assert rig.fake.post("ws/drop", how=how)["connections"] == 1
        feed.wait_status(lambda s: s["reconnects"] == number and s["open"] == 1)
        # The SDK subscribed both tokens again, in the configured mode, on the new connection.
        deadline = time.monotonic() + 5
        while len(subscriptions(rig.fake)) < before + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        again = subscriptions(rig.fake)[before:]
        assert any(r["a"] == "subscribe" and sorted(r["v"]) == sorted([INFY, FUT]) for r in again)
        assert any(r["a"] == "mode" and r["v"][0] == "quote" and sorted(r["v"][1]) == sorted([INFY, FUT]) for r in again)
        rig.ticks({"instrument_token": FUT, "last_price": 24000.0 + number, "volume": 10 + number, "last_quantity": 1})
        (topic, payload), = reader.read(1)
        assert (topic, payload["seq"], payload["price"]) == ("tick.NFO.NIFTY26DECFUT", number, 24000.0 + number)
    status = feed.status()
    assert (status["drops"], status["gaps"], status["stalls"]) == (2, 2, 0)
    feed.wait_line("data resumes after a gap of")
    assert reader.quiet(0.3) == []


def test_a_silent_stream_is_detected_as_a_stall_and_reconnected(rig: Rig) -> None:
    feed, reader = rig.start(["NSE:INFY"], stall_seconds=1.0)
    feed.wait_line(r"subscribed 1 instrument")
    stalled_at = time.monotonic()
    assert rig.fake.post("ws/stall", stalled=True)["connections"] == 1
    status = feed.wait_status(lambda s: s["stalls"] == 1 and s["reconnects"] == 1 and s["open"] == 1, timeout=10)
    assert time.monotonic() - stalled_at >= 1.0
    assert status["gaps"] == 1 and status["gap_seconds"] >= 1.0 and status["drops"] == 0
    feed.wait_line(r"no tick, no heartbeat\) for 1\.\d s: stalled")
    # The stalled connection is gone; the new one is live and subscribed.
    ticker = rig.fake.state()["ticker"]
    assert [(c["stalled"], list(c["modes"].values())) for c in ticker] == [(False, ["full"])]
    rig.ticks({"instrument_token": INFY, "last_price": 1499.95, "volume": 5, "last_quantity": 5,
               "exchange_timestamp": EXCHANGE_TIME})
    (_, payload), = reader.read(1)
    assert (payload["seq"], payload["price"], payload["ts"]) == (0, 1499.95, EXCHANGE_TIME * 10**9)


def test_more_than_3000_instruments_are_streamed_over_two_kite_connections(rig: Rig) -> None:
    names = [f"NSE:T{i:04d}" for i in range(3001)]
    # The fake's made-up tokens are 24-bit hashes: these names are chosen to have no collision.
    assert len({instrument_token(*n.split(":")) for n in names}) == 3001
    feed, reader = rig.start(names)
    feed.wait_line(r"3001 instrument\(s\) in 2 connection\(s\)")
    hellos = rig.engine.wait_for("hello", count=2)
    assert sorted((h["gateway_id"], len(h["instruments"])) for h in hellos) == [
        ("kite-feed-test#1", 3000), ("kite-feed-test#2", 1)]
    assert sorted(sum((h["instruments"] for h in hellos), [])) == sorted(names)
    feed.wait_status(lambda s: s["open"] == 2)
    deadline = time.monotonic() + 10
    while sorted(len(c["modes"]) for c in rig.fake.state()["ticker"]) != [1, 3000]:
        assert time.monotonic() < deadline, rig.fake.state()["ticker"]
        time.sleep(0.1)
    first, last = instrument_token("NSE", "T0000"), instrument_token("NSE", "T3000")
    rig.ticks({"instrument_token": first, "last_price": 10.5, "volume": 1, "last_quantity": 1},
              {"instrument_token": last, "last_price": 20.25, "volume": 2, "last_quantity": 2})
    got = reader.read(2)
    assert sorted(t for t, _ in got) == ["tick.NSE.T0000", "tick.NSE.T3000"]
    assert sorted(p["seq"] for _, p in got) == [0, 1]
    assert reader.quiet(0.3) == []


def test_a_refused_token_is_reported_to_the_engine_and_a_renewed_welcome_restores_the_stream(rig: Rig) -> None:
    feed, reader = rig.start(["NSE:INFY"])
    feed.wait_line(r"subscribed 1 instrument")
    rig.ticks({"instrument_token": INFY, "last_price": 1500.0, "volume": 1, "last_quantity": 1})
    assert [p["seq"] for _, p in reader.read(1)] == [0]
    rig.fake.post("expire", access_token=TOKEN)  # Kite closes the stream and refuses the token with 403
    expired = rig.engine.wait_for("session", lambda p: p["status"] == "expired")[0]
    assert expired["broker_id"] == BROKER and "403" in expired["reason"]
    status = feed.wait_status(lambda s: s["expired"] == 1)
    assert status["open"] == 0
    time.sleep(1.5)  # no knocking on Kite with the refused token meanwhile: one refused attempt
    assert len(re.findall(r"Connection closed: 1006 .*upgrade failed \(403", feed.log())) == 1
    assert len(rig.fake.state()["ticker"]) == 0

    # The morning login renews the token; the engine sends a welcome with it.
    rig.fake.post("session", api_key=API_KEY, access_token=RENEWED)
    hello = rig.engine.messages("hello")[-1]
    rig.engine.send("welcome", feed_welcome(RENEWED)(hello))
    rig.engine.wait_for("session", lambda p: p["status"] == "active")
    feed.wait_status(lambda s: s["open"] == 1 and s["reconnects"] == 1)
    rig.ticks({"instrument_token": INFY, "last_price": 1501.0, "volume": 3, "last_quantity": 2})
    (_, payload), = reader.read(1)
    assert (payload["seq"], payload["price"], payload["qty"]) == (1, 1501.0, 2)
    assert feed.stop() == 0
    assert_no_secret(feed, TOKEN, RENEWED)
    assert re.search(r"Kite refused the access token", feed.log())


def test_the_kite_stream_verifies_tls_so_an_impostor_never_gets_the_token(tmp_path: Path) -> None:
    impostor = ImpostorTLS(tmp_path)
    engine = engine_for(TOKEN)
    feed = FeedProcess(tmp_path, engine=engine.endpoint, ws_root=f"wss://localhost:{impostor.port}",
                       instruments=["NSE:INFY"])
    try:
        feed.wait_line("connecting to Kite Ticker")
        deadline = time.monotonic() + 10
        while impostor.handshakes < 2 and time.monotonic() < deadline:  # it was tried, and retried
            time.sleep(0.05)
        assert impostor.handshakes >= 2
        assert impostor.requests == []
        assert feed.status().get("open", 0) == 0
    finally:
        feed.stop()
        engine.close()
        impostor.close()
    assert_no_secret(feed, TOKEN)
