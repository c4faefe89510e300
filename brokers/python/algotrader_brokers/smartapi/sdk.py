"""The official Angel One SDK (``smartapi-python``, module ``SmartApi``), made safe to run in a
gateway. Measured on 1.5.5 (its source), each workaround here is for something it does that a
daemon with real credentials must not:

- Importing ``SmartApi.smartConnect`` runs ``requests.get("https://api.ipify.org")`` in the class
  body, with no timeout: on a host without a route out it can hang the import. The import below
  makes that lookup fail at once (the SDK then uses its fallback values, which we replace).
- ``SmartConnect.__init__`` creates ``./logs/<date>/app.log`` in the working directory (read-only
  under the systemd unit) and sends logzero's error lines there, and those lines carry the
  request headers (the api key) and bodies. ``QuietSmartConnect`` sets the attributes the SDK's
  methods read and nothing else; logzero's logger is silenced (this gateway logs for itself,
  scrubbed of secrets).
- The SDK sends ``X-ClientPublicIP: 106.193.147.98`` (a value it hard-codes after its lookup) and
  the local IP 127.0.0.1: SEBI's retail-algo rules have brokers check the registered static IP,
  so the gateway sends ``angel.public_ip`` instead.
- ``SmartWebSocketV2`` (market data) writes ./logs too, turns TLS verification off, and retries
  by sleeping inside its error callback; ``VerifiedSmartStream`` keeps its subscribe requests and
  binary parser (``_parse_binary_data``) and replaces the rest.
- ``SmartWebSocketOrderUpdate`` also writes ./logs, connects with TLS verification off
  (``cert_reqs: CERT_NONE``, with the JWT in its headers) and reconnects by recursing from
  ``on_close`` with a sleep. ``VerifiedOrderUpdates`` verifies the certificate and host name and
  leaves reconnecting to the adapter.
"""
from __future__ import annotations

import json
import logging
import ssl
import uuid
from typing import Any, Callable

import requests


def _import_sdk() -> tuple[Any, Any, Any]:
    real_get = requests.get

    def offline(*args: Any, **kwargs: Any) -> Any:
        raise requests.ConnectionError("the SmartApi import's public-IP lookup is not made by algotrader")

    setattr(requests, "get", offline)
    try:
        from SmartApi.smartConnect import SmartConnect
        from SmartApi.smartWebSocketOrderUpdate import SmartWebSocketOrderUpdate
        from SmartApi.smartWebSocketV2 import SmartWebSocketV2
    finally:
        setattr(requests, "get", real_get)
    for name in ("logzero_default", "SmartApi", "SmartApi.smartConnect"):
        logging.getLogger(name).disabled = True
    return SmartConnect, SmartWebSocketOrderUpdate, SmartWebSocketV2


SmartConnect, SmartWebSocketOrderUpdate, SmartWebSocketV2 = _import_sdk()


def host_mac_address() -> str:
    return ":".join(f"{(uuid.getnode() >> shift) & 0xff:02x}" for shift in range(40, -1, -8))


class QuietSmartConnect(SmartConnect):  # type: ignore[misc, valid-type]
    """``SmartConnect`` without its constructor's side effects (see the module docstring): the
    attributes set here are the ones its request methods read (1.5.5's ``requestHeaders`` and
    ``_request``)."""

    def __init__(self, api_key: str, access_token: str, root: str, *, public_ip: str = "", local_ip: str = "",
                 mac_address: str = "", timeout: float = 7.0) -> None:
        self.debug = False
        self.api_key = api_key
        self.privateKey = api_key
        self.session_expiry_hook = None
        self.disable_ssl = False
        self.access_token = access_token
        self.refresh_token = None
        self.feed_token = None
        self.userId = None
        self.proxies: dict[str, str] = {}
        self.root = root
        self.timeout = timeout
        self.Authorization = None
        # requestHeaders reads these spellings (the SDK's class attributes otherwise).
        self.clientPublicIp = public_ip or "127.0.0.1"
        self.clientLocalIp = local_ip or "127.0.0.1"
        self.clientMacAddress = mac_address or host_mac_address()
        self.accept = "application/json"
        self.userType = "USER"
        self.sourceID = "WEB"
        self.reqsession = requests


class VerifiedOrderUpdates(SmartWebSocketOrderUpdate):  # type: ignore[misc, valid-type]
    """Angel One's order-status WebSocket on the SDK's class, with TLS verified and no ./logs;
    each message's ``orderData`` goes to ``on_order``, the connection's state to ``on_state``.
    ``run`` returns when the connection ends (the caller reconnects)."""

    def __init__(self, url: str, jwt: str, api_key: str, client_code: str, feed_token: str,
                 on_order: Callable[[dict[str, Any]], None], on_state: Callable[[bool, str], None]) -> None:
        self.WEBSOCKET_URI = url
        self.auth_token = f"Bearer {jwt}"
        self.api_key = api_key
        self.client_code = client_code
        self.feed_token = feed_token
        self.wsapp: Any = None
        self.last_pong_timestamp = None
        self.current_retry_attempt = 0
        self._on_order, self._on_state = on_order, on_state

    def on_message(self, wsapp: Any, message: Any) -> None:
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        if message in ("pong", "ping"):
            return
        try:
            update = json.loads(message)
        except (TypeError, ValueError):
            logging.getLogger(__name__).warning("Angel One order update that is not JSON: %.200r", message)
            return
        if isinstance(update, dict) and isinstance(update.get("orderData"), dict) and update["orderData"].get("orderid"):
            self._on_order(update["orderData"])

    def on_open(self, wsapp: Any) -> None:
        self._on_state(True, "")

    def on_error(self, wsapp: Any, error: Any) -> None:
        self._on_state(False, f"error: {error}")

    def on_close(self, wsapp: Any, close_status_code: Any, close_msg: Any) -> None:
        self._on_state(False, f"closed: {close_status_code} {close_msg}")

    def run(self) -> None:
        import websocket  # websocket-client, the SDK's (undeclared) WebSocket dependency

        headers = {"Authorization": self.auth_token, "x-api-key": self.api_key, "x-client-code": self.client_code,
                   "x-feed-token": self.feed_token}
        self.wsapp = websocket.WebSocketApp(self.WEBSOCKET_URI, header=headers, on_open=self.on_open,
                                            on_error=self.on_error, on_close=self.on_close, on_data=self.on_data,
                                            on_ping=self.on_ping, on_pong=self.on_pong)
        # The SDK's HEARTBEAT_INTERVAL_SECONDS (10 s) as the ping interval: a silent connection
        # ends after the ping timeout instead of staying open unnoticed.
        self.wsapp.run_forever(sslopt={"cert_reqs": ssl.CERT_REQUIRED}, ping_interval=10, ping_timeout=8)

    def on_ping(self, wsapp: Any, data: Any) -> None:
        pass

    def on_pong(self, wsapp: Any, data: Any) -> None:
        pass  # the SDK's hands a pong's payload to on_message as if it were an update

    def close(self) -> None:
        if self.wsapp is not None:
            self.wsapp.close()


class VerifiedSmartStream(SmartWebSocketV2):  # type: ignore[misc, valid-type]
    """Angel One's SmartStream (WebSocket 2.0) on the SDK's class: its ``subscribe`` request and
    its parser of the binary packets, with TLS verified, no ./logs and no retries of its own
    (``run`` returns when the connection ends; the feed reconnects). ``on_tick`` gets each
    packet as the SDK parses it; ``on_activity`` any frame or pong (the stall check);
    ``on_state`` the connection's state."""

    def __init__(self, url: str, jwt: str, api_key: str, client_code: str, feed_token: str,
                 on_tick: Callable[[dict[str, Any]], None], on_activity: Callable[[], None],
                 on_state: Callable[[bool, str], None], on_open: Callable[["VerifiedSmartStream"], None]) -> None:
        self.ROOT_URI = url
        self.auth_token = jwt
        self.api_key = api_key
        self.client_code = client_code
        self.feed_token = feed_token
        self.DISCONNECT_FLAG = True
        self.last_pong_timestamp = None
        self.MAX_RETRY_ATTEMPT = 0
        self.input_request_dict: dict[int, dict[int, list[str]]] = {}
        self.RESUBSCRIBE_FLAG = False
        self.wsapp: Any = None
        # The HTTP status of a refused handshake (websocket-client's WebSocketBadStatusException).
        self.refused_status: int | None = None
        self._tick, self._activity, self._state, self._opened = on_tick, on_activity, on_state, on_open

    def run(self, ping_interval: float) -> None:
        import websocket

        headers = {"Authorization": self.auth_token, "x-api-key": self.api_key, "x-client-code": self.client_code,
                   "x-feed-token": self.feed_token}
        self.wsapp = websocket.WebSocketApp(self.ROOT_URI, header=headers, on_open=self._ws_open,
                                            on_error=self._ws_error, on_close=self._ws_close, on_data=self._ws_data,
                                            on_pong=self._ws_pong)
        self.wsapp.run_forever(sslopt={"cert_reqs": ssl.CERT_REQUIRED}, ping_interval=ping_interval)

    def _ws_open(self, wsapp: Any) -> None:
        self._activity()
        self._state(True, "")
        self._opened(self)

    def _ws_data(self, wsapp: Any, data: Any, data_type: int, continue_flag: Any) -> None:
        self._activity()
        if data_type == 2 and isinstance(data, (bytes, bytearray)) and len(data) >= 51:
            self._tick(self._parse_binary_data(bytes(data)))
        elif data_type == 1 and data not in ("pong", b"pong"):
            text = data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else str(data)
            logging.getLogger(__name__).warning("Angel One SmartStream says: %.300s", text)

    def _ws_pong(self, wsapp: Any, data: Any) -> None:
        self._activity()

    def _ws_error(self, wsapp: Any, error: Any) -> None:
        status = getattr(error, "status_code", None)
        if isinstance(status, int):
            self.refused_status = status
        self._state(False, f"{type(error).__name__}: {str(error)[:200]}")

    def _ws_close(self, wsapp: Any, code: Any = None, message: Any = None) -> None:
        self._state(False, f"closed: {code} {message}")

    def close(self) -> None:
        if self.wsapp is not None:
            self.wsapp.close()

    def abort(self) -> None:
        """Drops the connection without a close handshake (a stalled stream answers none)."""
        sock = getattr(self.wsapp, "sock", None)
        if sock is not None:
            try:
                sock.abort()  # wakes the thread blocked in recv: run_forever then returns
            except Exception:  # already gone
                pass
        self.close()
