"""Starting and driving the fake Angel One SmartAPI (fake_angel.py) from a test: its process and
its control endpoints, like kite_fake_process.FakeKiteProcess."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fake_angel_model import totp  # noqa: E402  (re-exported: tests log in with it)

DEFAULT_CLIENT = "A123456"
__all__ = ["DEFAULT_CLIENT", "FakeAngelProcess", "totp"]


class FakeAngelProcess:
    """``with FakeAngelProcess(tmp_path) as fake:`` runs fake_angel.py until the block ends."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def __enter__(self) -> "FakeAngelProcess":
        ready = self.directory / "fake-angel.port"
        log = self.directory / "fake-angel.log"
        ready.unlink(missing_ok=True)  # a port file left by an earlier run in this directory is stale
        self.process = subprocess.Popen([sys.executable, str(HERE / "fake_angel.py"), "--port", "0",
                                         "--ready-file", str(ready)],
                                        stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
        deadline = time.monotonic() + 15
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fake Angel did not start: " + log.read_text())
            time.sleep(0.02)
        self.port = int(ready.read_text())
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    @property
    def root(self) -> str:
        """SmartConnect(root=...)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_root(self) -> str:
        """The order-update socket is at ``ws_root + "/smart-order-update"``."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def order_update_url(self) -> str:
        """SmartWebSocketOrderUpdate.WEBSOCKET_URI."""
        return f"{self.ws_root}/smart-order-update"

    @property
    def stream_url(self) -> str:
        """SmartWebSocketV2.ROOT_URI (SmartStream market data, fake_angel_stream.py)."""
        return f"{self.ws_root}/smart-stream"

    @property
    def scrip_master_url(self) -> str:
        return f"{self.root}/OpenAPI_File/files/OpenAPIScripMaster.json"

    def call(self, method: str, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(f"{self.root}/_fake/{name}", method=method,
                                         data=json.dumps(body or {}).encode() if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise AssertionError(f"/_fake/{name}: {error.code} {error.read()!r}") from None
        return answer

    def post(self, name: str, **body: Any) -> dict[str, Any]:
        return self.call("POST", name, body)

    def state(self) -> dict[str, Any]:
        return self.call("GET", "state")

    def stream_ticks(self, *ticks: dict[str, Any]) -> int:
        """Publishes fake_angel_stream.StreamTick fields (prices in rupees) to the subscribed
        SmartStream connections; returns how many got a packet."""
        connections: int = self.post("stream/ticks", ticks=list(ticks))["connections"]
        return connections

    def orders(self, client_code: str = DEFAULT_CLIENT) -> list[dict[str, Any]]:
        """The client's order book rows (as getOrderBook shows them)."""
        result: list[dict[str, Any]] = self.state()["orders"].get(client_code, [])
        return result

    def trades(self, client_code: str = DEFAULT_CLIENT) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.state()["trades"].get(client_code, [])
        return result
