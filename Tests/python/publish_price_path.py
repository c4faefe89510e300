#!/usr/bin/env python3
"""Publishes one instrument's random-walk price path with pyzmq, for the strategy tests: binds an
XPUB, waits for the engine's subscription, sends COUNT ticks of SYMBOL on EXCHANGE one
millisecond apart (exchange time ending now), and writes the prices it sent, in order, as JSON.
With SPACING_MS, it sends one tick every SPACING_MS milliseconds of wall time instead, each
stamped when sent (a strategy process then has that long to answer a tick before the next).

With PAUSES_JSON (a JSON list of tick indices, from 0), it waits 300 ms more after each of those
ticks: a test that knows in advance which ticks make a strategy trade gives its process time to
answer them even on a loaded machine. ENDPOINT `-` publishes nothing and only writes the prices
(the same path: the same SEED gives the same prices), so a test can work out those ticks first.

usage: publish_price_path.py ENDPOINT SYMBOL EXCHANGE COUNT SEED OUT_JSON [SPACING_MS [PAUSES_JSON]]
"""
import json
import random
import sys
import time

import zmq


def main() -> None:
    endpoint, symbol, exchange, count, seed, out_path = sys.argv[1:7]
    count, seed = int(count), int(seed)
    spacing = float(sys.argv[7]) / 1000 if len(sys.argv) > 7 else 0.0
    pauses = set()
    if len(sys.argv) > 8:
        with open(sys.argv[8]) as f:
            pauses = set(json.load(f))
    rng = random.Random(seed)
    if endpoint == "-":
        units = 24_500_000
        prices = []
        for _ in range(count):
            units += rng.randrange(-4, 5) * 500
            prices.append(f"{units // 10000}.{units % 10000:04d}")
        with open(out_path, "w") as f:
            json.dump(prices, f)
        return
    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.setsockopt(zmq.LINGER, 10000)
    pub.bind(endpoint)
    if not pub.poll(20000):
        sys.exit("no subscriber")
    pub.recv()
    units = 24_500_000  # 2450.0000, in 1/10,000
    start_ns = time.time_ns() - count * 1_000_000
    prices = []
    for i in range(count):
        units += rng.randrange(-4, 5) * 500
        price = f"{units // 10000}.{units % 10000:04d}"
        ts = start_ns + i * 1_000_000
        if spacing:
            time.sleep(spacing)
            ts = time.time_ns()
        payload = (f'{{"symbol":"{symbol}","exchange":"{exchange}","ts":{ts},"price":{price},"qty":1,'
                   f'"src":"path","session":"{seed}","seq":{i + 1}}}').encode()
        pub.send_multipart([f"tick.{exchange}.{symbol}".encode(), payload])
        prices.append(price)
        if i in pauses:
            time.sleep(0.3)
    with open(out_path, "w") as f:
        json.dump(prices, f)
    pub.close()
    ctx.term()


if __name__ == "__main__":
    main()
