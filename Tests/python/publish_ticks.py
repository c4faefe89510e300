#!/usr/bin/env python3
"""A market-data publisher written with pyzmq (a client nobody on this project wrote), used by
the daemon tests: it binds an XPUB, waits for the engine's subscription, publishes ticks exactly
as CONTRACT.md section 1 describes (both timestamp forms, exact 4-decimal prices, seq with
resends), interleaves malformed messages of ten kinds, and writes the ticks it expects to be
stored to a JSON file.

usage: publish_ticks.py ENDPOINT COUNT EXPECTED_JSON [BAD_COUNT]
"""
import json
import random
import sys
import time
from datetime import datetime, timedelta, timezone

import zmq


def main() -> None:
    endpoint, count, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    bad_count = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    rng = random.Random(20261124)
    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.setsockopt(zmq.LINGER, 10000)
    pub.bind(endpoint)
    if not pub.poll(20000):
        sys.exit("no subscriber")
    sub = pub.recv()
    assert sub[0] == 1 and sub[1:].startswith(b"tick."), sub

    ist = timezone(timedelta(hours=5, minutes=30))
    now_ns = time.time_ns()
    symbols = [("RELIANCE", "NSE"), ("INFY", "NSE"), ("RELIANCE", "BSE"), ("USDINR", "CDS"), ("NIFTY26DECFUT", "NFO")]
    malformed = [
        b"not json",
        b'{"symbol":"X","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":',
        b'{"exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1}',
        b'{"symbol":"X","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":"1"}',
        b'{"symbol":"X","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":-1}',
        b'{"symbol":"X","exchange":"NSE","ts":"1999-01-01T00:00:00Z","price":1}',
        b'{"symbol":"X","exchange":"NSE","ts":"tomorrow","price":1}',
        b'{"symbol":"X","exchange":"NSE","ts":"2026-11-24T05:00:00Z","price":1.00001}',
        b" " * 70000,
        b"[]",
    ]
    expected = []
    sent_messages = []
    bad_sent = 0
    for i in range(count):
        symbol, exchange = symbols[i % len(symbols)]
        # Exact decimals on the instrument's tick: 0.0025 for CDS, 0.05 otherwise.
        step = 25 if exchange == "CDS" else 500
        units = rng.randrange(1, 4_000_000) * step
        price = f"{units // 10000}.{units % 10000:04d}".rstrip("0").rstrip(".")
        ts_ns = now_ns - rng.randrange(0, 3600 * 10**9)
        ts_ns -= ts_ns % 1000  # keep the test's comparison at PostgreSQL's microsecond resolution
        if i % 2 == 0:
            t = datetime.fromtimestamp(ts_ns // 10**9, tz=ist)
            ts_json = '"' + t.strftime("%Y-%m-%dT%H:%M:%S") + f".{(ts_ns % 10**9) // 1000:06d}+05:30" + '"'
        else:
            ts_json = str(ts_ns)
        qty = rng.randrange(0, 1000)
        payload = (
            f'{{"symbol":{json.dumps(symbol)},"exchange":"{exchange}","ts":{ts_json},"price":{price},'
            f'"qty":{qty},"src":"pytest","session":"s1","seq":{i + 1}}}'
        ).encode()
        topic = f"tick.{exchange}.{symbol}".encode()
        pub.send_multipart([topic, payload])
        sent_messages.append([topic, payload])
        expected.append({"symbol": symbol, "exchange": exchange, "ts_us": ts_ns // 1000, "price": price, "qty": qty})
        if bad_count and i % max(1, count // bad_count) == 0 and bad_sent < bad_count:
            pub.send_multipart([b"tick.NSE.X", malformed[bad_sent % len(malformed)]])
            bad_sent += 1
        # Resend an earlier stretch now and then, as a reconnecting publisher would.
        if i % 997 == 996:
            for topic_again, payload_again in sent_messages[-20:]:
                pub.send_multipart([topic_again, payload_again])
    with open(out_path, "w") as f:
        json.dump({"ticks": expected, "bad_sent": bad_sent}, f)
    print(f"sent {count} ticks and {bad_sent} malformed messages")
    pub.close()
    ctx.term()


if __name__ == "__main__":
    main()
