#!/usr/bin/env python3
"""A CURVE client of the engine's bus, written with pyzmq: subscribes to fill. and order. with
the given client key pair and the engine's public key, creates READY_FILE, counts the messages
it receives until STOP_FILE exists, and writes the count to OUT_FILE.

usage: curve_subscriber.py BUS SERVER_PUBLIC CLIENT_PUBLIC CLIENT_SECRET READY_FILE STOP_FILE OUT_FILE
"""
import os
import sys
import time

import zmq


def main() -> None:
    bus, server, public, secret, ready, stop, out = sys.argv[1:8]
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.curve_serverkey = server.encode()
    sub.curve_publickey = public.encode()
    sub.curve_secretkey = secret.encode()
    sub.setsockopt(zmq.SUBSCRIBE, b"fill.")
    sub.setsockopt(zmq.SUBSCRIBE, b"order.")
    sub.connect(bus)
    time.sleep(0.5)
    open(ready, "w").close()
    count = 0
    while not os.path.exists(stop):
        if sub.poll(50):
            sub.recv_multipart()
            count += 1
    with open(out, "w") as f:
        f.write(str(count))
    sub.close()
    ctx.term()


if __name__ == "__main__":
    main()
