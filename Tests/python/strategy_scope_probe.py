#!/usr/bin/env python3
"""Speaks the strategy protocol with plain pyzmq (not the SDK, which never sends such requests),
for the scope tests: says hello as STRATEGY with TOKEN, waits for its first tick, then sends the
requests read from stdin (a JSON array of [topic, payload-text] pairs) one at a time, and writes
every message the engine sent after the welcome, as JSON lines [topic, payload], to OUT. Exits 3
if it is not welcomed, 4 if no tick comes.

usage: strategy_scope_probe.py ENDPOINT STRATEGY TOKEN OUT
"""
import json
import sys
import time

import zmq


def main() -> None:
    endpoint, strategy, token, out_path = sys.argv[1:5]
    requests = json.load(sys.stdin)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    sock.send_multipart([b"hello", json.dumps({"strategy": strategy, "token": token}).encode()])
    received = []

    def wait_for(topic: str, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if sock.poll(100):
                frames = sock.recv_multipart()
                name = frames[0].decode()
                if name == topic:
                    return True
                if name == "error" and topic == "welcome":
                    print("refused: " + frames[1].decode(), file=sys.stderr)
                    return False
        return False

    if not wait_for("welcome", 20):
        sys.exit(3)
    if not wait_for("tick", 30):
        sys.exit(4)
    for topic, payload in requests:
        sock.send_multipart([topic.encode(), payload.encode()])
        # Each request is answered (an error) or acted on (an order event) before the next.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if not sock.poll(100):
                continue
            frames = sock.recv_multipart()
            name = frames[0].decode()
            if name in ("tick", "heartbeat", "position"):
                continue
            received.append([name, frames[1].decode() if len(frames) > 1 else ""])
            break
    with open(out_path, "w") as f:
        for item in received:
            f.write(json.dumps(item) + "\n")


if __name__ == "__main__":
    main()
