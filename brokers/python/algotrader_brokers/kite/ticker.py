"""Kite Ticker connections with TLS verified, for the publisher and the gateway's order updates.

The SDK's own ``KiteTicker.connect`` hands Twisted a ``ClientContextFactory``, which verifies
nothing, and the access token travels in the handshake's URL: anyone on the path could pose as
Kite and take it. ``VerifiedKiteTicker`` checks the server's certificate and host name against
the system's trusted roots, and otherwise connects as the SDK does, on a reactor that runs
already (Twisted's reactor runs once per process: ``start_reactor`` starts it on a thread for a
process whose main thread is not the reactor's, the gateway).
"""
from __future__ import annotations

import threading
from typing import Any

from autobahn.twisted.websocket import connectWS
from kiteconnect import KiteTicker
from twisted.internet import ssl

_lock = threading.Lock()
_started = False


class VerifiedKiteTicker(KiteTicker):  # type: ignore[misc]
    """KiteTicker whose ``wss://`` connection verifies Kite's certificate and host name."""

    def connect(self, threaded: bool = False, disable_ssl_verification: bool = False, proxy: Any = None) -> None:
        self._create_connection(self.socket_url, useragent=self._user_agent(), proxy=proxy,
                                headers={"X-Kite-Version": "3"})
        context = ssl.optionsForClientTLS(self.factory.host) if self.factory.isSecure else None
        connectWS(self.factory, contextFactory=context, timeout=self.connect_timeout)


def reactor() -> Any:
    from twisted.internet import reactor as running
    return running


def start_reactor() -> None:
    """Runs the process's reactor on a daemon thread of its own, once (the SDK's
    ``connect(threaded=True)`` did the same). Calls handed to it with ``callFromThread`` before it
    runs wait for it."""
    global _started
    with _lock:
        if _started:
            return
        _started = True
        threading.Thread(target=reactor().run, kwargs={"installSignalHandlers": False}, name="kite-reactor",
                         daemon=True).start()
