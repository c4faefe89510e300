"""The Kite publisher's parts that need no network: Kite packets (packed as Kite lays them out,
fake_kite_ticker.py, and parsed by the SDK's own KiteTicker parser) mapped to contract ticks, the
instrument groups for Kite's connection limits, the XPUB's seq and subscriptions, and the log
filter that keeps the access token out."""
from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
import zmq
from kite_feed_process import free_port
from kiteconnect import KiteTicker

from algotrader_brokers.config import ConfigError
from algotrader_brokers.feed_common import (Instrument, Publisher, SecretFilter, exact_number, group_instruments,
                                            parse_instruments)
from algotrader_brokers.kite.feed import LIMITS, TickMapper
from fake_kite_ticker import Tick, pack_message, pack_tick

EQUITY = Instrument("NSE", "INFY", (1594 << 8) | 1)
FUTURE = Instrument("NFO", "NIFTY26DECFUT", (7001 << 8) | 2)
CURRENCY = Instrument("CDS", "USDINR26DECFUT", (4242 << 8) | 3)   # segment 3: prices in 1/10^7 rupee
INDEX = Instrument("NSE", "NIFTY 50", 256265)                       # segment 9: an index
EXCHANGE_TIME = 1796000001
NOW_NS = 1796000005_123456789
HELLO = {"gateway_id": "kite-main#3", "broker_ids": ["0b7e1c4e-5d1a-4c1e-9f0e-2a6b8d9c1f00"], "role": "feed",
         "api_type": "zerodha"}


def parsed(tick: Tick, mode: str) -> dict[str, Any]:
    """``tick`` as the SDK hands it to on_ticks: packed by Kite's layout, parsed by KiteTicker."""
    ticks: list[dict[str, Any]] = KiteTicker("key", "token")._parse_binary(pack_message([pack_tick(tick, mode)]))
    assert len(ticks) == 1
    return ticks[0]


def full_equity(**changes: Any) -> Tick:
    fields: dict[str, Any] = dict(instrument_token=EQUITY.token, last_price=1500.55, last_quantity=7,
                                  average_price=1499.1, volume=12345, buy_quantity=100, sell_quantity=200,
                                  open=1490.0, high=1510.0, low=1480.0, close=1495.0, last_trade_time=EXCHANGE_TIME - 1,
                                  exchange_timestamp=EXCHANGE_TIME, bids=[(10, 1500.5, 3)], asks=[(20, 1500.6, 4)])
    fields.update(changes)
    return Tick(**fields)


def test_a_full_packet_becomes_a_tick_with_the_exchange_time_the_best_levels_and_the_volume() -> None:
    tick, why = TickMapper().map(parsed(full_equity(), "full"), EQUITY, NOW_NS)
    assert why == ""
    assert tick == {"symbol": "INFY", "exchange": "NSE", "ts": EXCHANGE_TIME * 10**9, "price": 1500.55,
                    "volume": 12345, "qty": 7, "oi": 0, "bid": 1500.5, "bid_qty": 10, "ask": 1500.6, "ask_qty": 20}
    # What goes on the wire: the exact decimals, no exponent.
    assert '"price":1500.55' in json.dumps(tick, separators=(",", ":"))


def test_qty_is_what_traded_since_the_previous_packet_so_a_repeated_snapshot_adds_no_volume() -> None:
    mapper = TickMapper()
    first, _ = mapper.map(parsed(full_equity(volume=1000, last_quantity=7), "full"), EQUITY, NOW_NS)
    depth_only, _ = mapper.map(parsed(full_equity(volume=1000, last_quantity=7, bids=[(11, 1500.5, 3)]), "full"),
                               EQUITY, NOW_NS)
    two_trades, _ = mapper.map(parsed(full_equity(volume=1012, last_quantity=5), "full"), EQUITY, NOW_NS)
    next_day, _ = mapper.map(parsed(full_equity(volume=3, last_quantity=3), "full"), EQUITY, NOW_NS)
    assert first is not None and depth_only is not None and two_trades is not None and next_day is not None
    assert [first["qty"], depth_only["qty"], two_trades["qty"], next_day["qty"]] == [7, 0, 12, 3]
    assert depth_only["bid_qty"] == 11 and two_trades["volume"] == 1012
    # Before the day's first trade the last quantity is yesterday's: never more than the volume.
    fresh, _ = TickMapper().map(parsed(full_equity(volume=0, last_quantity=40), "full"), EQUITY, NOW_NS)
    assert fresh is not None and fresh["qty"] == 0


def test_a_quote_packet_has_no_exchange_time_so_the_receipt_time_stands_in_and_no_depth() -> None:
    tick, _ = TickMapper().map(parsed(full_equity(), "quote"), EQUITY, NOW_NS)
    assert tick == {"symbol": "INFY", "exchange": "NSE", "ts": NOW_NS, "price": 1500.55, "volume": 12345, "qty": 7}
    # A full packet whose exchange time is zero (Kite's "none") does the same.
    zero, _ = TickMapper().map(parsed(full_equity(exchange_timestamp=0), "full"), EQUITY, NOW_NS)
    assert zero is not None and zero["ts"] == NOW_NS


def test_an_index_has_a_price_and_an_exchange_time_and_nothing_traded() -> None:
    index = Tick(instrument_token=INDEX.token, last_price=24010.5, open=23950.0, high=24050.0, low=23900.0,
                 close=24000.0, exchange_timestamp=EXCHANGE_TIME)
    tick, _ = TickMapper().map(parsed(index, "full"), INDEX, NOW_NS)
    assert tick == {"symbol": "NIFTY 50", "exchange": "NSE", "ts": EXCHANGE_TIME * 10**9, "price": 24010.5}


def test_open_interest_and_an_empty_depth_side() -> None:
    future = full_equity(instrument_token=FUTURE.token, last_price=24100.05, oi=1_250_000, asks=[])
    tick, _ = TickMapper().map(parsed(future, "full"), FUTURE, NOW_NS)
    assert tick is not None and tick["oi"] == 1_250_000 and tick["bid"] == 1500.5
    assert "ask" not in tick and "ask_qty" not in tick


def test_prices_are_published_exactly_or_not_at_all() -> None:
    exact, _ = TickMapper().map(parsed(Tick(instrument_token=CURRENCY.token, last_price=83.2525, volume=10,
                                            last_quantity=1), "quote"), CURRENCY, NOW_NS)
    assert exact is not None and exact["price"] == 83.2525
    tick, why = TickMapper().map(parsed(Tick(instrument_token=CURRENCY.token, last_price=83.2525001), "quote"),
                                 CURRENCY, NOW_NS)
    assert (tick, why) == (None, "inexact_price")
    tick, why = TickMapper().map(parsed(full_equity(last_price=0.0), "full"), EQUITY, NOW_NS)
    assert (tick, why) == (None, "no_price")
    assert exact_number(0.0001, positive=True, limit=1e14) == 0.0001
    assert exact_number(0.00005, positive=True, limit=1e14) is None
    assert exact_number(1e14, positive=True, limit=1e14) is None
    assert exact_number(float("nan"), positive=True, limit=1e14) is None
    assert exact_number(True, positive=True, limit=1e14) is None


def test_instruments_are_checked_deduplicated_and_grouped_by_kites_limits() -> None:
    assert parse_instruments(("NSE:INFY", "NSE:INFY", "NFO:NIFTY 26DEC"), *LIMITS) == [("NSE", "INFY"), ("NFO", "NIFTY 26DEC")]
    for bad in ("INFY", "NSE:", ":INFY", "NSE:IN\nFY", "NSE:" + "X" * 51):
        with pytest.raises(ConfigError, match="feed.instruments"):
            parse_instruments((bad,), *LIMITS)
    with pytest.raises(ConfigError, match="feed.instruments"):
        parse_instruments((), *LIMITS)
    with pytest.raises(ConfigError, match="at most 9000"):
        parse_instruments(tuple(f"NSE:S{i}" for i in range(9001)), *LIMITS)
    short = [("NSE", f"S{i:04d}") for i in range(9000)]
    assert [len(g) for g in group_instruments(short, HELLO, *LIMITS)] == [3000, 3000, 3000]
    assert [len(g) for g in group_instruments(short[:3001], HELLO, *LIMITS)] == [3000, 1]
    # Long option symbols fill the engine's 64 KiB hello before 3,000.
    long = [("NFO", f"BANKNIFTY26DEC{i:05d}CE") for i in range(5000)]
    groups = group_instruments(long, HELLO, *LIMITS)
    assert len(groups) == 3 and sum(map(len, groups)) == 5000 and max(map(len, groups)) < 3000
    for group in groups:
        hello = {**HELLO, "instruments": [f"{e}:{s}" for e, s in group]}
        assert len(json.dumps(hello).encode()) <= 64 * 1024
    with pytest.raises(ConfigError, match="Kite allows 3"):
        group_instruments([("NFO", f"BANKNIFTY26DEC{i:05d}CE") for i in range(7000)], HELLO, *LIMITS)


def test_the_publisher_stamps_seq_once_per_tick_and_sends_only_once_subscribed() -> None:
    context: zmq.Context[Any] = zmq.Context.instance()
    # Not a probe ZeroMQ socket bound and closed: libzmq closes it on its I/O thread, later, and
    # the publisher's bind of the same port could fail with EADDRINUSE (seen in a full run).
    port = free_port()
    publisher = Publisher(f"tcp://127.0.0.1:{port}", "kite-main", "run-1", context)
    sub = context.socket(zmq.SUB)
    try:
        publisher.publish(EQUITY.topic, {"symbol": "INFY"})  # nobody listens yet
        assert (publisher.unsubscribed, publisher.published, publisher.next_seq) == (1, 0, 1)
        sub.setsockopt(zmq.SUBSCRIBE, b"tick.")
        sub.connect(f"tcp://127.0.0.1:{port}")
        deadline = time.monotonic() + 5
        while publisher.published == 0:
            publisher.publish(EQUITY.topic, {"symbol": "INFY"})
            assert time.monotonic() < deadline, "the subscription never arrived"
            time.sleep(0.02)
        topic, body = sub.recv_multipart()
        payload = json.loads(body)
        assert topic == b"tick.NSE.INFY"
        assert (payload["src"], payload["session"]) == ("kite-main", "run-1")
        # The ticks sent before the subscription spent their seq: the engine sees them as a gap.
        assert payload["seq"] == publisher.next_seq - 1 == publisher.unsubscribed
    finally:
        sub.close(0)
        publisher.close()


def test_the_secret_filter_blanks_the_token_in_messages_and_tracebacks() -> None:
    secrets = SecretFilter()
    secrets.add("tok-VERY-SECRET")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "url %s", ("wss://h?access_token=tok-VERY-SECRET",),
                               None)
    assert secrets.filter(record) and record.getMessage() == "url wss://h?access_token=[redacted]"
    try:
        raise ValueError("bad tok-VERY-SECRET")
    except ValueError:
        import sys
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    secrets.filter(record)
    assert record.exc_text is not None and "tok-VERY-SECRET" not in record.exc_text and "[redacted]" in record.exc_text


def write_config(path: Any, feed: str, broker_id: str = "kite-main") -> Any:
    path.write_text('[engine]\nendpoint = "tcp://127.0.0.1:9"\n'
                    f'[broker]\napi_type = "zerodha"\nid = "{broker_id}"\nbroker_ids = ["b1"]\n[feed]\n{feed}\n')
    return path


@pytest.mark.parametrize("feed, broker_id, named", [
    ('mode = "ltp"\ninstruments = ["NSE:INFY"]', "kite-main", "feed.mode"),
    ("instruments = []", "kite-main", "feed.instruments"),
    ('instruments = ["INFY"]', "kite-main", "feed.instruments"),
    ("instruments = [" + ", ".join(f'"NSE:S{i}"' for i in range(9001)) + "]", "kite-main", "feed.instruments"),
    ('instruments = ["NSE:INFY"]', "k" * 65, "broker.id"),
    ('instruments = ["NSE:INFY"]\npublish_bind = "nonsense://x"', "kite-main", "feed.publish_bind"),
])
def test_the_feed_command_exits_78_naming_the_bad_key(tmp_path: Any, capsys: pytest.CaptureFixture[str], feed: str,
                                                      broker_id: str, named: str) -> None:
    from algotrader_brokers.__main__ import main
    assert main(["feed", "--config", str(write_config(tmp_path / "feed.toml", feed, broker_id))]) == 78
    assert named in capsys.readouterr().err


def test_a_welcome_without_the_broker_or_its_credentials_starts_no_stream(tmp_path: Any,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    from algotrader_brokers.config import load
    from algotrader_brokers.engine_link import Welcome
    from algotrader_brokers.kite.feed import KiteFeed
    config = load(write_config(tmp_path / "feed.toml", 'instruments = ["NSE:INFY"]\npublish_bind = "tcp://127.0.0.1:0"'))
    feed = KiteFeed(config)
    shard = feed.shards[0]
    instruments = ({"exchange": "NSE", "symbol": "INFY", "instrument_token": EQUITY.token},)
    try:
        for payload in ({"broker_ids": [], "refused_broker_ids": ["b1"]},
                        {"broker_ids": ["b1"], "credential_errors": {"b1": "sealed under another key"}},
                        {"broker_ids": ["b1"], "credentials": {"b1": {"api_key": "k"}}},
                        {"broker_ids": ["b1"], "credentials": {"b1": {"api_key": "k", "access_token": "t-SECRET"}},
                         "instruments": [], "unknown_instruments": ["NSE:INFY"]}):
            feed.welcome(shard, Welcome.parse({**payload, "instruments": list(payload.get("instruments", instruments))}))
            assert shard.ticker is None
        text = caplog.text
        assert "did not grant broker b1" in text and "sealed under another key" in text
        assert "lack api_key or access_token" in text and "NSE:INFY is not in the engine's instrument master" in text
        assert "t-SECRET" not in text
    finally:
        feed.publisher.close()
