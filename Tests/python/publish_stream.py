#!/usr/bin/env python3
"""A paced market-data publisher written with pyzmq, for the fault tests: binds an XPUB, waits
for the engine's subscription, then sends COUNT ticks of one symbol (a random walk, exchange time
= now, src/session/seq set) at RATE ticks per second, and writes {"session": ..., "count": N} to
OUT_JSON. The pace makes the stream outlast a database outage or a daemon kill in the middle.

usage: publish_stream.py ENDPOINT SYMBOL COUNT RATE SEED OUT_JSON
"""
import json
import random
import sys
import time
import uuid

import zmq


def main() -> None:
    endpoint, symbol, count, rate, seed, out_path = sys.argv[1:7]
    count, rate, seed = int(count), float(rate), int(seed)
    rng = random.Random(seed)
    session = str(uuid.uuid4())
    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.setsockopt(zmq.LINGER, 10000)
    pub.bind(endpoint)
    if not pub.poll(20000):
        sys.exit("no subscriber")
    pub.recv()
    units = 24_500_000
    start = time.time()
    for seq in range(1, count + 1):
        units = max(10_000, units + rng.randint(-30_000, 30_000))
        price = f"{units // 10000}.{units % 10000:04d}"
        tick = {"symbol": symbol, "exchange": "NSE", "ts": time.time_ns(), "price": float(price), "qty": rng.randint(1, 50),
                "src": "fault-feed", "session": session, "seq": seq}
        payload = json.dumps(tick).replace(json.dumps(float(price)), price, 1)
        pub.send_multipart([f"tick.NSE.{symbol}".encode(), payload.encode()])
        delay = start + seq / rate - time.time()
        if delay > 0:
            time.sleep(delay)
    with open(out_path, "w") as f:
        json.dump({"session": session, "count": count}, f)
    time.sleep(0.5)
    pub.close()
    ctx.term()


if __name__ == "__main__":
    main()
