"""The ICICI Direct publisher as it runs (``python -m algotrader_brokers feed``, its own process,
on breeze-connect's socket client) against the fake Breeze's socket.io stream
(fake_icici_stream.py, in fake_icici.py) and a fake engine ROUTER that answers its hello with
the credentials, read through a ZeroMQ SUB as the engine reads it: ticks mapped exactly once
with seq rising by one, what the SDK cannot parse counted, a dropped transport reconnected by
socket.io and resubscribed by the SDK, a connection the server ends made again, a refused
session reported to the engine and the stream back with a renewed one; no token in the log.
And the fake's quote lists checked against the SDK's parse_data and README's sample ticks."""
from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
import time
import uuid
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from algotrader_brokers.icici.sdk import import_breeze
from fake_engine import FakeEngine
from fake_icici_stream import EQUITY_FIELDS, FNO_FIELDS, quote_list
from icici_fake_process import DEFAULT_KEY, DEFAULT_USER, FakeIciciProcess
from kite_feed_process import PACKAGE, FeedProcess, TickReader

BROKER = "7d2e4f10-3b6a-4c8d-9e1f-2a3b4c5d6e09"
SESSION_KEY, RENEWED_KEY = "sk-FEED-SECRET-5521", "sk-RENEWED-SECRET-7730"
ROOMS = {"NSE:INFY": "4.1!1594", "NFO:NIFTY26DECFUT": "4.1!53001", "BSE:RELIANCE": "1.1!500325"}
LTT = 1_796_000_001  # epoch seconds
STATUS = re.compile(r"icici feed status: (.*) session=(\S+)")


def welcome(credentials: dict[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The engine's answer: the broker granted with ``credentials``; every instrument but
    ``NSE:NOSUCH`` in its master."""
    def answer(hello: dict[str, Any]) -> dict[str, Any]:
        names = list(hello.get("instruments", []))
        return {"broker_ids": hello["broker_ids"], "refused_broker_ids": [], "heartbeat_interval_ms": 200,
                "heartbeat_timeout_ms": 60_000, "credentials": {b: dict(credentials) for b in hello["broker_ids"]},
                "credential_errors": {},
                "instruments": [{"exchange": n.split(":")[0], "symbol": n.split(":")[1], "instrument_token": 9_000 + i,
                                 "exchange_token": None} for i, n in enumerate(names) if n != "NSE:NOSUCH"],
                "unknown_instruments": [n for n in names if n == "NSE:NOSUCH"]}
    return answer


class IciciFeedProcess(FeedProcess):
    def status(self) -> dict[str, float]:
        """The counters of the latest ``icici feed status`` line."""
        with self._cond:
            lines = list(self.lines)
        for line in reversed(lines):
            found = STATUS.search(line)
            if found:
                return {k: float(v) for k, v in (pair.split("=") for pair in found.group(1).split())}
        return {}


class Rig:
    def __init__(self, directory: Path, fake: FakeIciciProcess, token: str) -> None:
        self.directory, self.fake = directory, fake
        self.credentials = {"api_key": DEFAULT_KEY, "session_token": token}
        self.engine = FakeEngine(lambda hello: welcome(self.credentials)(hello))
        self.feed: IciciFeedProcess | None = None
        self.reader: TickReader | None = None

    def start(self, instruments: list[str], **kwargs: Any) -> tuple[IciciFeedProcess, TickReader]:
        section = (f'[icici]\napi_url = "{self.fake.api_url}"\nstream_url = "{self.fake.root}"\n'
                   f'order_feed_url = "{self.fake.order_feed_url}"\nsecurity_master = "{self.fake.security_master_url}"\n')
        self.feed = IciciFeedProcess(self.directory, engine=self.engine.endpoint, ws_root="", instruments=instruments,
                                     broker_id=BROKER, api_type="icici", broker_section=section,
                                     feed_id="icici-feed-test", **kwargs)
        self.reader = TickReader(self.feed.publish)
        self.feed.wait_line(r"a subscriber joined \(prefix 'tick\.'\)")
        return self.feed, self.reader

    def ticks(self, *ticks: dict[str, Any]) -> int:
        """Publishes quotes (fake_icici_stream.quote_list's fields) once a connection has joined
        its rooms; how many connections got one."""
        self.stream_when(lambda s: any(c["rooms"] for c in s["connections"]))
        reached: int = self.fake.post("stream/ticks", ticks=list(ticks))["connections"]
        return reached

    def stream(self) -> dict[str, Any]:
        state: dict[str, Any] = self.fake.state()["stream"]
        return state

    def stream_when(self, ready: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        """The fake's stream state once ``ready`` holds: the SDK's join is emitted as it logs
        "subscribed", and reaches the fake a moment later."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.stream()
            if ready(state) or time.monotonic() > deadline:
                return state
            time.sleep(0.05)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.feed is not None:
            self.feed.stop()
        self.engine.close()


@pytest.fixture()
def rig(tmp_path: Path) -> Iterator[Rig]:
    with FakeIciciProcess(tmp_path) as fake:
        running = Rig(tmp_path, fake, fake.session(session_key=SESSION_KEY))
        try:
            yield running
        finally:
            running.close()


def assert_no_secret(feed: FeedProcess, *secrets: str) -> None:
    text = feed.log() + feed.config.read_text()
    for secret in secrets:
        assert secret not in text


def token_of(key: str) -> str:
    return base64.b64encode(f"{DEFAULT_USER}:{key}".encode()).decode()


def test_quotes_arrive_mapped_by_room_exactly_once_with_seq_rising_by_one(rig: Rig) -> None:
    feed, reader = rig.start(["NSE:INFY", "NFO:NIFTY26DECFUT", "BSE:RELIANCE", "NSE:NOSUCH"])
    feed.wait_line(r"subscribed 3 instrument\(s\)")
    feed.wait_line("NSE:NOSUCH is not in the engine's instrument master")
    hello = rig.engine.wait_for("hello")[0]
    assert (hello["role"], hello["gateway_id"], hello["api_type"]) == ("feed", "icici-feed-test", "icici")
    stream = rig.stream_when(lambda s: bool(s["joins"]))
    # The SDK's own handshake (its User-Agent and auth) and one join of every room, as a list.
    assert stream["handshakes"] == [{"user": DEFAULT_USER, "feed": "stream", "accepted": True,
                                     "user_agent": "python-socketio[client]/socket"}]
    assert stream["joins"] == [{"user": DEFAULT_USER, "feed": "stream", "rooms": sorted(ROOMS.values())}]
    (connection,) = stream["connections"]
    assert connection["token"] == SESSION_KEY and connection["rooms"] == sorted(ROOMS.values())
    infy = {"symbol": "4.1!1594", "open": 1490.0, "last": 1500.55, "high": 1505.0, "low": 1488.2, "change": 0.35,
            "bPrice": 1500.5, "bQty": 10, "sPrice": 1500.6, "sQty": 20, "ltq": 7, "avgPrice": 1499.1, "ttq": 12345,
            "totalBuyQt": 900, "totalSellQ": 800, "ttv": "18.51C", "lowerCktLm": 1350.0, "upperCktLm": 1650.0,
            "ltt": LTT, "close": 1495.3}
    assert rig.ticks(
        infy,
        {"symbol": "4.1!53001", "last": 24100.05, "ltq": 75, "ttq": 900, "OI": 1250000, "CHNGOI": 1500,
         "bPrice": 24100.0, "bQty": 150, "ltt": LTT + 1},
        {"symbol": "1.1!500325", "last": 1210.1, "ltq": 3, "ttq": 40, "ltt": LTT + 2}) == 1
    # The same INFY snapshot with only the bid's size changed: no new volume, qty 0.
    rig.ticks({**infy, "bQty": 12, "ltt": LTT + 3})
    got = reader.read(4)
    session = got[0][1]["session"]
    assert uuid.UUID(session) and all(p["session"] == session and p["src"] == "icici-feed-test" for _, p in got)
    assert [p["seq"] for _, p in got] == [0, 1, 2, 3]
    assert [topic for topic, _ in got] == ["tick.NSE.INFY", "tick.NFO.NIFTY26DECFUT", "tick.BSE.RELIANCE",
                                           "tick.NSE.INFY"]
    strip = [{k: v for k, v in p.items() if k not in ("src", "session", "seq")} for _, p in got]
    assert strip == [
        {"symbol": "INFY", "exchange": "NSE", "ts": LTT * 10**9, "price": 1500.55, "volume": 12345, "qty": 7,
         "bid": 1500.5, "bid_qty": 10, "ask": 1500.6, "ask_qty": 20},
        {"symbol": "NIFTY26DECFUT", "exchange": "NFO", "ts": (LTT + 1) * 10**9, "price": 24100.05, "volume": 900,
         "qty": 75, "oi": 1250000, "bid": 24100.0, "bid_qty": 150},
        {"symbol": "RELIANCE", "exchange": "BSE", "ts": (LTT + 2) * 10**9, "price": 1210.1, "volume": 40, "qty": 3},
        {"symbol": "INFY", "exchange": "NSE", "ts": (LTT + 3) * 10**9, "price": 1500.55, "volume": 12345, "qty": 0,
         "bid": 1500.5, "bid_qty": 12, "ask": 1500.6, "ask_qty": 20}]
    assert reader.quiet(0.5) == []
    assert feed.stop() == 0
    final = feed.status()
    assert (final["received"], final["published"], final["seq"], final["bad"], final["rejected"]) == (4, 4, 4, 0, 0)
    assert_no_secret(feed, SESSION_KEY, rig.credentials["session_token"])


def test_what_the_sdk_cannot_parse_is_counted_bad_and_bad_prices_rejected(rig: Rig) -> None:
    feed, reader = rig.start(["NSE:INFY"])
    feed.wait_line(r"subscribed 1 instrument")
    good = quote_list({"symbol": "4.1!1594", "last": 1500.0, "ttq": 10, "ltq": 10, "ltt": LTT})
    assert rig.ticks(
        {"raw": ["4.1!1594", 1490.0, 1500.0]},                      # too short: parse_data's reads fail
        {"raw": good[:19] + ["not a time"] + good[20:]},            # ltt not epoch seconds
        {"raw": good[:12]},                                         # a quote of neither known length
        {"symbol": "4.1!1594", "last": 0, "ttq": 10, "ltt": LTT},   # no price
        {"symbol": "4.1!1594", "last": 1500.12345, "ttq": 10, "ltt": LTT},  # more decimals than the engine keeps
        {"raw": good}) == 1
    ((topic, tick),) = reader.read(1)
    assert topic == "tick.NSE.INFY" and tick["seq"] == 0 and tick["price"] == 1500.0
    assert reader.quiet(0.5) == []
    feed.wait_line(r"a stream message not published \(unparsable \(IndexError\)")
    feed.wait_line(r"a stream message not published \(unparsable \(TypeError\)")
    feed.wait_line(r"a stream message not published \(not_a_quote")
    feed.wait_line(r"a tick of NSE:INFY not published \(no_price")
    feed.wait_line(r"a tick of NSE:INFY not published \(inexact_price")
    assert rig.stream()["connections"][0]["rooms"] == ["4.1!1594"]  # still connected: nothing was fatal
    assert feed.stop() == 0
    status = feed.status()
    assert (status["received"], status["bad"], status["rejected"], status["published"], status["drops"]) == \
        (6, 3, 2, 1, 0)


def test_a_dropped_transport_is_reconnected_by_socketio_and_resubscribed_by_the_sdk(rig: Rig) -> None:
    feed, reader = rig.start(["NSE:INFY", "NFO:NIFTY26DECFUT"], mode="quote")
    feed.wait_line(r"subscribed 2 instrument\(s\)")
    rig.ticks({"symbol": "4.1!1594", "last": 1500.0, "ttq": 10, "ltt": LTT})
    reader.read(1)
    assert rig.fake.post("stream/drop", how="abort")["connections"] == 1
    feed.wait_status(lambda s: s.get("reconnects") == 1 and s.get("open") == 1, timeout=20)
    stream = rig.stream_when(lambda s: len(s["joins"]) == 2)
    assert len(stream["handshakes"]) == 2 and len(stream["joins"]) == 2  # the SDK's rewatch joined again
    assert sorted(stream["joins"][1]["rooms"]) == ["4.1!1594", "4.1!53001"]  # (from the SDK's set)
    assert rig.ticks({"symbol": "4.1!53001", "last": 24000.0, "ttq": 5, "OI": 100, "bPrice": 23999.0,
                      "ltt": LTT}) == 1
    ((_, tick),) = reader.read(1)
    # Quote mode: no oi, no depth.
    assert tick["symbol"] == "NIFTY26DECFUT" and tick["seq"] == 1 and "oi" not in tick and "bid" not in tick
    status = feed.wait_status(lambda s: s.get("gaps") == 1)
    assert status["drops"] == 1


def test_a_connection_the_server_ends_is_made_again_and_resubscribed(rig: Rig) -> None:
    feed, reader = rig.start(["NSE:INFY"])
    feed.wait_line(r"subscribed 1 instrument")
    assert rig.fake.post("stream/drop", how="close")["connections"] == 1
    feed.wait_line("the server ended the connection; connecting again", timeout=10)
    feed.wait_status(lambda s: s.get("reconnects") == 1 and s.get("open") == 1, timeout=20)
    stream = rig.stream_when(lambda s: any(c["rooms"] for c in s["connections"]))
    assert [h["accepted"] for h in stream["handshakes"]] == [True, True]
    assert stream["connections"][0]["rooms"] == ["4.1!1594"]
    assert rig.ticks({"symbol": "4.1!1594", "last": 1501.0, "ttq": 3, "ltt": LTT}) == 1
    reader.read(1)


def test_a_refused_session_is_reported_and_a_renewed_welcome_restores_the_stream(rig: Rig) -> None:
    feed, reader = rig.start(["NSE:INFY"])
    feed.wait_line(r"subscribed 1 instrument")
    rig.fake.post("expire", api_key=DEFAULT_KEY)  # the fake ends the session's sockets; a reconnect is refused
    expired = rig.engine.wait_for("session", lambda p: p["status"] == "expired", timeout=20)[0]
    assert expired["broker_id"] == BROKER and "refused" in expired["reason"]
    assert rig.stream()["handshakes"][-1]["accepted"] is False
    renewed = rig.fake.session(session_key=RENEWED_KEY)
    assert renewed == token_of(RENEWED_KEY)
    rig.credentials = {**rig.credentials, "session_token": renewed}
    rig.engine.send("welcome", welcome(rig.credentials)(rig.engine.messages("hello")[-1]))
    rig.engine.wait_for("session", lambda p: p["status"] == "active", timeout=20)
    assert rig.stream_when(lambda s: any(c["rooms"] for c in s["connections"]))["connections"][0]["token"] == RENEWED_KEY
    rig.ticks({"symbol": "4.1!1594", "last": 1502.0, "ttq": 4, "ltt": LTT})
    reader.read(1)
    assert feed.stop() == 0
    assert feed.status()["expired"] == 1
    assert_no_secret(feed, SESSION_KEY, RENEWED_KEY, token_of(SESSION_KEY), renewed)


def test_a_session_refused_while_socketio_reconnects_stops_its_retries_and_is_reported(rig: Rig) -> None:
    feed, reader = rig.start(["NSE:INFY"])
    feed.wait_line(r"subscribed 1 instrument")
    # The transport drops, and before socket.io's first retry (at least 0.5 s later) the session ends.
    assert rig.fake.post("stream/drop", how="abort")["connections"] == 1
    rig.fake.post("expire", api_key=DEFAULT_KEY)
    expired = rig.engine.wait_for("session", lambda p: p["status"] == "expired", timeout=20)[0]
    assert "refused" in expired["reason"]
    feed.wait_status(lambda s: s.get("expired") == 1 and s.get("drops") == 1 and s.get("open") == 0)
    time.sleep(3.5)  # socket.io's own next retries would come within 2.5 s: there are none
    assert [h["accepted"] for h in rig.stream()["handshakes"]] == [True, False]
    assert rig.stream()["connections"] == []


def test_an_exchange_icici_does_not_stream_is_a_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "feed.toml"
    config.write_text('[engine]\nendpoint = "tcp://127.0.0.1:1"\n'
                      f'[broker]\napi_type = "icici"\nid = "icici-feed-test"\nbroker_ids = ["{BROKER}"]\n'
                      '[feed]\npublish_bind = "tcp://127.0.0.1:1"\ninstruments = ["MCX:CRUDEOIL26DECFUT"]\n')
    done = subprocess.run([sys.executable, "-m", "algotrader_brokers", "feed", "--config", str(config)], cwd=PACKAGE,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 78
    assert "feed.instruments: MCX:CRUDEOIL26DECFUT: ICICI Direct streams NSE, NFO, BSE, BFO" in done.stderr


# README's sample ticks (breeze-connect 1.0.69), as on_ticks printed them: RELIANCE on NSE and an
# option on BFO (23 fields and no "exchange": parse_data names no exchange for segment 8).
README_NSE = {"symbol": "4.1!2885", "open": 1219.45, "last": 1209.05, "high": 1226.9, "low": 1193.35, "change": -2.09,
              "bPrice": 1209.05, "bQty": 13, "sPrice": 1209.35, "sQty": 34, "ltq": 1, "avgPrice": 1208.86,
              "ttq": 10991550, "totalBuyQt": 762919, "totalSellQ": 619405, "ttv": "1328.72C", "trend": "",
              "lowerCktLm": 1111.4, "upperCktLm": 1358.3, "close": 1234.85}
README_BFO = {"symbol": "8.1!844663", "open": 96, "last": 98, "high": 105.8, "low": 35.25, "change": -2.05,
              "bPrice": 96.8, "bQty": 40, "sPrice": 97.25, "sQty": 120, "ltq": 20, "avgPrice": 61.87, "OI": 37020,
              "CHNGOI": 12880, "ttq": 809940, "totalBuyQt": 30800, "totalSellQ": 12360, "ttv": 6338.74, "trend": "",
              "lowerCktLm": 0.05, "upperCktLm": 505.8, "close": 100.05}


@pytest.mark.parametrize(("sample", "length", "exchange"), [(README_NSE, 21, "NSE Equity"), (README_BFO, 23, None)])
def test_the_fakes_quote_lists_parse_as_readmes_sample_ticks(sample: dict[str, Any], length: int,
                                                             exchange: str | None) -> None:
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    module = import_breeze(buffer.getvalue())
    values = quote_list({**sample, "ltt": LTT})
    assert len(values) == length and values[0] == sample["symbol"]
    assert [name for name in (FNO_FIELDS if length == 23 else EQUITY_FIELDS)][:1] == ["symbol"]
    parsed = module.BreezeConnect("key").parse_data(values)
    expected = {**sample, "quotes": "Quotes Data", "ltt": datetime.fromtimestamp(LTT).strftime("%c")}
    if exchange is not None:
        expected["exchange"] = exchange
    assert parsed == expected
