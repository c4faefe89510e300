#!/usr/bin/env python3
"""A fill/order subscriber written with pyzmq: subscribes to fill. and order. on the engine's
bus, collects every event until SECONDS pass with nothing new (after at least one), then asks
the replay endpoint (a DEALER to the engine's ROUTER) for the range it saw, and writes both to
OUT_JSON as {"live": [[topic, payload], ...], "replayed": [...], "end": {...}}.

usage: subscribe_events.py BUS REPLAY OUT_JSON IDLE_SECONDS READY_FILE
"""
import json
import sys
import time

import zmq


def main() -> None:
    bus, replay, out_path, idle = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    ready_file = sys.argv[5]
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"fill.")
    sub.setsockopt(zmq.SUBSCRIBE, b"order.")
    sub.connect(bus)
    time.sleep(0.3)
    open(ready_file, "w").close()
    live = []
    last = time.time()
    deadline = time.time() + 120
    while time.time() < deadline:
        if sub.poll(100):
            topic, payload = sub.recv_multipart()
            live.append([topic.decode(), payload.decode()])
            last = time.time()
        elif live and time.time() - last > idle:
            break
    seqs = [json.loads(p)["seq"] for _, p in live]
    replayed, end = [], None
    if seqs:
        dealer = ctx.socket(zmq.DEALER)
        dealer.connect(replay)
        dealer.send(json.dumps({"from_seq": min(seqs), "to_seq": max(seqs)}).encode())
        while dealer.poll(5000):
            topic, payload = dealer.recv_multipart()
            if topic == b"replay.end":
                end = json.loads(payload)
                break
            replayed.append([topic.decode(), payload.decode()])
    with open(out_path, "w") as f:
        json.dump({"live": live, "replayed": replayed, "end": end}, f)
    # Close every socket before terminating the context, or term() waits forever.
    ctx.destroy(linger=0)


if __name__ == "__main__":
    main()
