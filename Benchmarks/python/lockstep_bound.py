"""Row 6b's bound: a Python process answering lock-step round trips over ipc, as a replay's
strategy process does, against the bench's own ROUTER (which plays the replay: it sends each
tick with its `step` and waits for `done`).

    lockstep_bound.py ENDPOINT MODE

MODE is what answers each tick:

- `bare`: pyzmq alone, `recv_multipart` then `send_multipart` of a fixed `done` (the floor of
  any Python process on this transport);
- `sdk`: the SDK's own lock-step loop (`Runner`) with a strategy that does nothing (the SDK's
  decode of each message into a `Tick`, its dispatch, its `done`);
- `sma`: the same loop with sdk/python/examples/sma_crossover.py's strategy (all the Python
  side of the replay). No engine answers its orders here, so each `buy`/`sell` counts as
  filled at once (the position moves, nothing is sent; about one tick in a hundred signals):
  orders that never filled would pile up in `open_quantity` and slow every tick after.

It says `hello`, gets a `welcome` (`"lockstep": true`), answers until `stop`, and exits 0.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import zmq

from algotrader_sdk import Strategy
from algotrader_sdk.connection import Runner


def bare(endpoint: str) -> int:
    context: "zmq.Context[zmq.Socket[bytes]]" = zmq.Context.instance()
    socket: "zmq.Socket[bytes]" = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(endpoint)
    socket.send_multipart([b"hello", b"{}"])
    socket.recv_multipart()  # the welcome
    done = [b"done", b'{"step":0}']
    while True:
        frames = socket.recv_multipart()
        if frames[0] == b"stop":
            return 0
        socket.send_multipart(done)


def sma() -> Strategy:
    path = os.path.join(os.path.dirname(__file__), "..", "..", "sdk", "python", "examples", "sma_crossover.py")
    spec = importlib.util.spec_from_file_location("sma_crossover", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    base: type = module.SMACrossover

    class FilledAtOnce(base):  # type: ignore[misc]
        def buy(self, symbol: str, quantity: int, exchange: str = "NSE", **rest: object) -> str:
            self._positions[(symbol, exchange)] = self.position(symbol, exchange) + quantity
            return ""

        def sell(self, symbol: str, quantity: int, exchange: str = "NSE", **rest: object) -> str:
            self._positions[(symbol, exchange)] = self.position(symbol, exchange) - quantity
            return ""

    strategy: Strategy = FilledAtOnce()
    return strategy


def main(argv: list[str]) -> int:
    endpoint, mode = argv[1], argv[2]
    if mode == "bare":
        return bare(endpoint)
    strategy = sma() if mode == "sma" else Strategy()
    return Runner(strategy, endpoint, "bound", "x").run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
