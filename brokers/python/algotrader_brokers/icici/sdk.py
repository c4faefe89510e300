"""ICICI Direct's official Breeze SDK (``breeze-connect`` 1.0.69), made safe to run in a daemon.

What importing ``breeze_connect`` does, read in its source (breeze_connect/breeze_connect.py):
- downloads ``config.SECURITY_MASTER_URL`` (a 20 MB zip) with ``urlopen`` and no timeout, at
  import: a gateway would hang at start whenever ICICI's file server does. Here the import is
  served the bytes the gateway already read (securities.py, with its own timeout and retries).
- creates ``./logs`` and opens ``logs/apiLogs.log`` and ``logs/websocketLogs.log`` in the working
  directory, at DEBUG: under systemd the working directory may be read-only, and those files
  would collect every answer ICICI gives. Here the import runs in a throw-away directory, the
  file handlers are closed and removed, and the two loggers only pass on warnings.
- puts its own folder first on ``sys.path`` and imports its ``config`` as a top-level module:
  its URLs are read from that module at call time, so they are pointed at ``BreezeURLs`` here.
- sets urllib3's ``HAS_IPV6 = False`` for the process (left: ICICI serves IPv4).

And what it does per call: ``requests.get/post/put/delete`` without a timeout (a stalled
connection would hold a gateway thread for ever). The module's ``requests`` is replaced by
``TimedRequests``, the same four calls with a timeout. ``generate_session`` would read the
customer details (the engine did that at login) and download the security master again: it is
not called; ``make_breeze`` sets what it sets.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import sys
import tempfile
import threading
import types
import urllib.request
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Iterator

import requests

REQUEST_TIMEOUT = 20.0  # seconds: connect and read, per Breeze REST call

_lock = threading.Lock()
_module: types.ModuleType | None = None


@dataclass(frozen=True)
class BreezeURLs:
    api: str                                                  # REST root, ending in "/"
    stream: str = "https://livestream.icicidirect.com"        # quotes (socket.io)
    order_feed: str = "https://livefeeds.icicidirect.com"     # order notifications (socket.io)


class TimedRequests:
    """What breeze_connect calls as ``requests.get(url=, data=, headers=)``, with a timeout, on
    one pooled session."""

    def __init__(self, timeout: float = REQUEST_TIMEOUT) -> None:
        self.timeout = timeout
        self.session = requests.Session()
        # The module's other uses (``requests.packages``, exceptions) keep working.
        self.packages = requests.packages
        self.exceptions = requests.exceptions

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.session.get(url, timeout=kwargs.pop("timeout", self.timeout), **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.session.post(url, timeout=kwargs.pop("timeout", self.timeout), **kwargs)

    def put(self, url: str, **kwargs: Any) -> requests.Response:
        return self.session.put(url, timeout=kwargs.pop("timeout", self.timeout), **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self.session.delete(url, timeout=kwargs.pop("timeout", self.timeout), **kwargs)


@contextlib.contextmanager
def _served_download(payload: bytes) -> Iterator[None]:
    """urllib.request.urlopen answering ``payload`` while the SDK imports (it binds urlopen by
    name at import, so the patch is only needed then)."""
    original = urllib.request.urlopen

    def urlopen(url: Any, *args: Any, **kwargs: Any) -> BytesIO:
        return BytesIO(payload)

    urllib.request.urlopen = urlopen
    try:
        yield
    finally:
        urllib.request.urlopen = original


def import_breeze(security_master_zip: bytes) -> types.ModuleType:
    """``breeze_connect.breeze_connect``, imported once per process as described above."""
    global _module
    with _lock:
        if _module is not None:
            return _module
        here = os.getcwd()
        with tempfile.TemporaryDirectory(prefix="breeze-import-") as scratch, _served_download(security_master_zip):
            os.chdir(scratch)
            try:
                from breeze_connect import breeze_connect
            finally:
                os.chdir(here)
            for name in ("APILogger", "WebsocketLogger"):
                logger = logging.getLogger(name)
                for handler in list(logger.handlers):
                    logger.removeHandler(handler)
                    handler.close()
                logger.setLevel(logging.WARNING)
        module: types.ModuleType = breeze_connect
        # The SDK put its folder at sys.path[1] for its top-level ``config``; nothing else of
        # ours is named like its modules, but the entry is not left to shadow anything later.
        folder = os.path.dirname(os.path.abspath(module.__file__ or ""))
        while folder in sys.path:
            sys.path.remove(folder)
        setattr(module, "requests", TimedRequests())  # the name its calls look up at call time
        _module = module
        return module


def session_parts(session_token: str) -> tuple[str, str]:
    """(user_id, session_key) of the base64 ``session_token`` customerdetails answers."""
    try:
        text = base64.b64decode(session_token.encode("ascii"), validate=True).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError("session_token is not base64 of user_id:session_key") from None
    user, sep, key = text.partition(":")
    if not sep or not user or not key:
        raise ValueError("session_token is not base64 of user_id:session_key")
    return user, key


def make_breeze(module: types.ModuleType, api_key: str, api_secret: str, session_token: str, urls: BreezeURLs) -> Any:
    """A ``BreezeConnect`` ready for REST calls and sockets: what ``generate_session`` sets,
    without its customer-details call and second download."""
    config = module.config
    config.API_URL = urls.api
    config.LIVE_STREAM_URL = urls.stream
    config.LIVE_FEEDS_URL = urls.order_feed
    breeze = module.BreezeConnect(api_key)
    breeze.user_id, breeze.session_key = session_parts(session_token)
    breeze.secret_key = api_secret
    breeze.api_handler = module.ApificationBreeze(breeze)
    return breeze
