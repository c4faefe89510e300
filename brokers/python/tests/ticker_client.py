#!/usr/bin/env python3
"""The official SDK's KiteTicker in a process of its own (its Twisted reactor runs once per
process), printing what it receives as JSON lines, so tests read the fake's stream through
the SDK's own parser:

    ticker_client.py WS_ROOT API_KEY MODE TOKENS   (the access token is read from stdin)

Lines: {"event": "connect"} | {"event": "ticks", "ticks": [...]} | {"event": "order", "data":
{...}} | {"event": "error", "code", "reason"} | {"event": "close", "code", "reason"}.
"""
from __future__ import annotations

import json
import sys
import threading
from typing import Any

from kiteconnect import KiteTicker


def emit(line: dict[str, Any]) -> None:
    print(json.dumps(line, default=str), flush=True)


def main() -> int:
    ws_root, api_key, mode, tokens_text = sys.argv[1:5]
    access_token = sys.stdin.readline().strip()  # not on the command line: tests check argv
    tokens = [int(t) for t in tokens_text.split(",") if t]
    ticker = KiteTicker(api_key, access_token, root=ws_root, reconnect_max_delay=5)

    def on_connect(ws: Any, response: Any) -> None:
        emit({"event": "connect"})
        if tokens:
            ws.subscribe(tokens)
            ws.set_mode(mode, tokens)

    ticker.on_connect = on_connect
    ticker.on_ticks = lambda ws, ticks: emit({"event": "ticks", "ticks": ticks})
    ticker.on_order_update = lambda ws, data: emit({"event": "order", "data": data})
    ticker.on_error = lambda ws, code, reason: emit({"event": "error", "code": code, "reason": str(reason)})
    ticker.on_close = lambda ws, code, reason: emit({"event": "close", "code": code, "reason": str(reason)})
    ticker.connect(threaded=True)
    threading.Event().wait()  # until killed
    return 0


if __name__ == "__main__":
    sys.exit(main())
