#!/usr/bin/env python3
"""Hostile and unlucky inputs from outside, written with pyzmq, for the tests of issue 14
(nothing crashes, wedges or loses). Every mode writes what it did to OUT_JSON.

  hostile_feed.py payloads ENDPOINT IN_JSON OUT_JSON
      Binds an XPUB, waits for the engine's subscription, sends the messages of IN_JSON
      ({"messages": [[topic, payload], ...]}, payloads as text) in order, at most 20,000 a second.
  hostile_feed.py flood ENDPOINT SECONDS MODE OUT_JSON [SNDHWM]
      Binds an XPUB and sends valid ticks as fast as it can for SECONDS, each with src, session
      and a seq rising by one: MODE "plain" (one stream, 20 symbols), "sessions" (a new session
      per tick) or "symbols" (a new symbol per tick). The publisher's own high-water mark
      (SNDHWM, default 1000) drops what the engine does not read, as a real PUB does. Writes
      {"sent": N, "session": ...}.
  hostile_feed.py replay ENDPOINT FROM_SEQ TO_SEQ OUT_JSON
      A DEALER to the replay endpoint: one request, then every message until replay.end or
      replay.error (or 10 s of silence). Writes {"events": [[topic, payload], ...], "end": {...},
      "error": {...}}; FROM_SEQ/TO_SEQ are sent as given (raw JSON text).
"""
import json
import sys
import time
import uuid

import zmq


def bind_xpub(ctx, endpoint, hwm, linger=10000):
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.SNDHWM, hwm)
    pub.setsockopt(zmq.LINGER, linger)
    pub.bind(endpoint)
    if not pub.poll(20000):
        sys.exit("no subscriber")
    pub.recv()
    return pub


def payloads(endpoint, in_path, out_path):
    with open(in_path) as f:
        messages = json.load(f)["messages"]
    ctx = zmq.Context()
    pub = bind_xpub(ctx, endpoint, 0)
    start = time.time()
    for i, (topic, payload) in enumerate(messages):
        pub.send_multipart([topic.encode(), payload.encode("utf-8", "surrogatepass")])
        delay = start + i / 20000 - time.time()
        if delay > 0:
            time.sleep(delay)
    with open(out_path, "w") as f:
        json.dump({"sent": len(messages)}, f)
    time.sleep(0.5)
    pub.close()
    ctx.term()


def flood(endpoint, seconds, mode, out_path, hwm):
    ctx = zmq.Context()
    # No linger: what is still queued at the end is dropped, as a publisher that stops drops it.
    pub = bind_xpub(ctx, endpoint, hwm, linger=0)
    session = str(uuid.uuid4())
    now_ns = time.time_ns()
    sent = 0
    deadline = time.time() + seconds
    symbols = [f"FLOOD{i}" for i in range(20)]
    while time.time() < deadline:
        for _ in range(1000):
            sent += 1
            if mode == "sessions":
                stream = f"{session}-{sent}"
                symbol = symbols[sent % 20]
            elif mode == "symbols":
                stream = session
                symbol = f"S{sent}"
            else:
                stream = session
                symbol = symbols[sent % 20]
            payload = ('{"symbol":"%s","exchange":"NSE","ts":%d,"price":%d.05,"qty":%d,"src":"flood","session":"%s","seq":%d}'
                       % (symbol, now_ns + sent * 1000, 100 + sent % 50, 1 + sent % 9, stream, sent))
            try:
                pub.send_multipart([b"tick.NSE." + symbol.encode(), payload.encode()], flags=zmq.NOBLOCK)
            except zmq.Again:
                pass  # the high-water mark: a PUB drops, exactly as the engine's publishers do
    with open(out_path, "w") as f:
        json.dump({"sent": sent, "session": session}, f)
    time.sleep(0.5)
    pub.close()
    ctx.term()


def replay(endpoint, from_seq, to_seq, out_path):
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(endpoint)
    dealer.send(('{"from_seq": %s, "to_seq": %s}' % (from_seq, to_seq)).encode())
    events, end, error = [], None, None
    # A refused request gets replay.error alone; an answer cut short gets it before replay.end.
    while dealer.poll(1000 if error else 10000):
        topic, payload = dealer.recv_multipart()
        if topic == b"replay.end":
            end = json.loads(payload)
            break
        if topic == b"replay.error":
            error = json.loads(payload)
            continue
        events.append([topic.decode(), payload.decode()])
    with open(out_path, "w") as f:
        json.dump({"events": events, "end": end, "error": error}, f)
    dealer.close()
    ctx.term()


def main() -> None:
    mode = sys.argv[1]
    if mode == "payloads":
        payloads(sys.argv[2], sys.argv[3], sys.argv[4])
    elif mode == "flood":
        flood(sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]) if len(sys.argv) > 6 else 1000)
    elif mode == "replay":
        replay(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
