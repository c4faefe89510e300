"""The Angel One publisher as it runs (``python -m algotrader_brokers feed``, its own process)
against the fake SmartAPI's SmartStream (fake_angel_stream.py) and a fake engine ROUTER that
answers its hello with the credentials and the instruments' exchange tokens, read through a
ZeroMQ SUB as the engine reads it: ticks mapped exactly once with seq rising by one, a dropped
connection reconnected and resubscribed, a silent one detected, a refused feed token reported to
the engine and the stream back with a renewed one; no token in the log."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from angel_fake_process import FakeAngelProcess
from fake_engine import FakeEngine
from kite_feed_process import FeedProcess, TickReader

BROKER = "3c1f0e2d-7a6b-4c5d-9e8f-0a1b2c3d4e07"
API_KEY, CLIENT = "angel-feed-key", "A123456"
JWT, FEED = "jwt-FEED-SECRET-4471", "feedtok-FEED-SECRET-2290"
RENEWED = "feedtok-RENEWED-SECRET-8812"
TOKENS = {"NSE:INFY": 1594, "NFO:NIFTY26DECFUT": 35001, "CDS:USDINR26DECFUT": 1201}
EXCHANGE_MS = 1_796_000_001_250


def welcome(credentials: dict[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def answer(hello: dict[str, Any]) -> dict[str, Any]:
        names = list(hello.get("instruments", []))
        return {"broker_ids": hello["broker_ids"], "refused_broker_ids": [], "heartbeat_interval_ms": 200,
                "heartbeat_timeout_ms": 60_000, "credentials": {b: dict(credentials) for b in hello["broker_ids"]},
                "credential_errors": {},
                "instruments": [{"exchange": n.split(":")[0], "symbol": n.split(":")[1], "instrument_token": 9_000 + i,
                                 "exchange_token": TOKENS[n]} for i, n in enumerate(names) if n in TOKENS],
                "unknown_instruments": [n for n in names if n not in TOKENS]}
    return answer


class Rig:
    def __init__(self, directory: Path, fake: FakeAngelProcess) -> None:
        self.directory, self.fake = directory, fake
        self.credentials = {"api_key": API_KEY, "client_code": CLIENT, "jwt_token": JWT, "feed_token": FEED}
        self.engine = FakeEngine(lambda hello: welcome(self.credentials)(hello))
        self.feed: FeedProcess | None = None
        self.reader: TickReader | None = None

    def start(self, instruments: list[str], **kwargs: Any) -> tuple[FeedProcess, TickReader]:
        section = f'[angel]\nstream_url = "{self.fake.stream_url}"\n'
        self.feed = FeedProcess(self.directory, engine=self.engine.endpoint, ws_root="", instruments=instruments,
                                broker_id=BROKER, api_type="angel", broker_section=section, feed_id="angel-feed-test",
                                **kwargs)
        self.reader = TickReader(self.feed.publish)
        self.feed.wait_line(r"a subscriber joined \(prefix 'tick\.'\)")
        return self.feed, self.reader

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.feed is not None:
            self.feed.stop()
        self.engine.close()


@pytest.fixture()
def rig(tmp_path: Path) -> Iterator[Rig]:
    with FakeAngelProcess(tmp_path) as fake:
        fake.post("session", api_key=API_KEY, client_code=CLIENT, jwt=JWT, feed_token=FEED)
        running = Rig(tmp_path, fake)
        try:
            yield running
        finally:
            running.close()


def assert_no_secret(feed: FeedProcess, *secrets: str) -> None:
    text = feed.log() + feed.config.read_text()
    for secret in secrets:
        assert secret not in text


def test_ticks_arrive_mapped_by_exchange_token_exactly_once_with_seq_rising_by_one(rig: Rig) -> None:
    feed, reader = rig.start(["NSE:INFY", "NFO:NIFTY26DECFUT", "CDS:USDINR26DECFUT", "NSE:NOSUCH"])
    feed.wait_line(r"subscribed 3 instrument\(s\) in mode 3")
    feed.wait_line("NSE:NOSUCH is not in the engine's instrument master")
    hello = rig.engine.wait_for("hello")[0]
    assert (hello["role"], hello["gateway_id"], hello["api_type"]) == ("feed", "angel-feed-test", "angel")
    stream = rig.fake.state()["stream"][0]
    assert stream["exchange_subscriptions"] == {"3": {"1": ["1594"], "2": ["35001"], "13": ["1201"]}}
    rig.fake.stream_ticks(
        {"exchange_type": 1, "token": "1594", "ltp": 1500.55, "last_traded_quantity": 7, "volume": 12345,
         "exchange_timestamp_ms": EXCHANGE_MS, "bid": 1500.5, "bid_qty": 10, "ask": 1500.6, "ask_qty": 20},
        {"exchange_type": 2, "token": "35001", "ltp": 24100.05, "last_traded_quantity": 75, "volume": 900,
         "oi": 1250000, "exchange_timestamp_ms": EXCHANGE_MS + 1000},
        {"exchange_type": 13, "token": "1201", "ltp": 83.2525, "last_traded_quantity": 1, "volume": 40,
         "exchange_timestamp_ms": EXCHANGE_MS + 2000})
    # The same INFY snapshot with only the depth changed: no new volume, qty 0.
    rig.fake.stream_ticks({"exchange_type": 1, "token": "1594", "ltp": 1500.55, "last_traded_quantity": 7,
                           "volume": 12345, "exchange_timestamp_ms": EXCHANGE_MS + 3000, "bid": 1500.5, "bid_qty": 12,
                           "ask": 1500.6, "ask_qty": 20})
    got = reader.read(4)
    session = got[0][1]["session"]
    assert uuid.UUID(session) and all(p["session"] == session and p["src"] == "angel-feed-test" for _, p in got)
    assert [p["seq"] for _, p in got] == [0, 1, 2, 3]
    strip = [{k: v for k, v in p.items() if k not in ("src", "session", "seq")} for _, p in got]
    assert strip == [
        {"symbol": "INFY", "exchange": "NSE", "ts": EXCHANGE_MS * 10**6, "price": 1500.55, "volume": 12345, "qty": 7,
         "oi": 0, "bid": 1500.5, "bid_qty": 10, "ask": 1500.6, "ask_qty": 20},
        {"symbol": "NIFTY26DECFUT", "exchange": "NFO", "ts": (EXCHANGE_MS + 1000) * 10**6, "price": 24100.05,
         "volume": 900, "qty": 75, "oi": 1250000},
        {"symbol": "USDINR26DECFUT", "exchange": "CDS", "ts": (EXCHANGE_MS + 2000) * 10**6, "price": 83.2525,
         "volume": 40, "qty": 1, "oi": 0},
        {"symbol": "INFY", "exchange": "NSE", "ts": (EXCHANGE_MS + 3000) * 10**6, "price": 1500.55, "volume": 12345,
         "qty": 0, "oi": 0, "bid": 1500.5, "bid_qty": 12, "ask": 1500.6, "ask_qty": 20}]
    assert reader.quiet(0.5) == []
    assert feed.stop() == 0
    final = feed.status()
    assert (final["received"], final["published"], final["seq"]) == (4, 4, 4)
    assert_no_secret(feed, JWT, FEED)


def test_a_dropped_connection_is_reconnected_and_resubscribed_and_ticks_resume(rig: Rig) -> None:
    feed, reader = rig.start(["NSE:INFY", "NFO:NIFTY26DECFUT"], mode="quote")
    feed.wait_line(r"subscribed 2 instrument\(s\) in mode 2")
    rig.fake.stream_ticks({"exchange_type": 1, "token": "1594", "ltp": 1500.0, "volume": 10})
    reader.read(1)
    rig.fake.post("stream/drop", how="abort")
    feed.wait_status(lambda s: s.get("reconnects") == 1 and s.get("open") == 1, timeout=15)
    assert rig.fake.stream_ticks({"exchange_type": 2, "token": "35001", "ltp": 24000.0, "volume": 5}) == 1
    (_, tick), = reader.read(1)
    assert tick["symbol"] == "NIFTY26DECFUT" and tick["seq"] == 1 and "oi" not in tick
    status = feed.wait_status(lambda s: s.get("gaps") == 1)
    assert status["drops"] == 1


def test_a_silent_stream_is_detected_as_a_stall_and_reconnected(rig: Rig) -> None:
    feed, reader = rig.start(["NSE:INFY"], stall_seconds=1.5)
    feed.wait_line(r"subscribed 1 instrument")
    rig.fake.post("stream/stall", stalled=True)
    feed.wait_line("stalled; dropping the connection", timeout=10)
    feed.wait_status(lambda s: s.get("stalls") == 1 and s.get("reconnects") == 1 and s.get("open") == 1, timeout=15)
    assert rig.fake.stream_ticks({"exchange_type": 1, "token": "1594", "ltp": 1501.0, "volume": 3}) >= 1
    reader.read(1)


def test_a_refused_feed_token_is_reported_and_a_renewed_welcome_restores_the_stream(rig: Rig) -> None:
    feed, reader = rig.start(["NSE:INFY"])
    feed.wait_line(r"subscribed 1 instrument")
    rig.fake.post("expire", jwt=JWT)
    expired = rig.engine.wait_for("session", lambda p: p["status"] == "expired", timeout=20)[0]
    assert expired["broker_id"] == BROKER and "refused" in expired["reason"]
    rig.fake.post("session", api_key=API_KEY, client_code=CLIENT, jwt="jwt-RENEWED-4471", feed_token=RENEWED)
    rig.credentials = {**rig.credentials, "jwt_token": "jwt-RENEWED-4471", "feed_token": RENEWED}
    rig.engine.send("welcome", welcome(rig.credentials)(rig.engine.messages("hello")[-1]))
    rig.engine.wait_for("session", lambda p: p["status"] == "active", timeout=20)
    rig.fake.stream_ticks({"exchange_type": 1, "token": "1594", "ltp": 1502.0, "volume": 4})
    reader.read(1)
    assert feed.stop() == 0
    assert feed.status()["expired"] == 1
    assert_no_secret(feed, JWT, FEED, RENEWED, "jwt-RENEWED-4471")
