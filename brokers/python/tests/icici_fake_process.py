"""Starting and driving the fake ICICI Direct Breeze (fake_icici.py) from a test: its process
and its control endpoints, like angel_fake_process.FakeAngelProcess."""
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
DEFAULT_KEY = "icici-app-1"
DEFAULT_SECRET = "icici-secret-1"
DEFAULT_USER = "XY604721"


class FakeIciciProcess:
    """``with FakeIciciProcess(tmp_path) as fake:`` runs fake_icici.py until the block ends."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def __enter__(self) -> "FakeIciciProcess":
        ready = self.directory / "fake-icici.port"
        log = self.directory / "fake-icici.log"
        ready.unlink(missing_ok=True)  # a port file left by an earlier run in this directory is stale
        self.process = subprocess.Popen([sys.executable, str(HERE / "fake_icici.py"), "--port", "0",
                                         "--ready-file", str(ready)],
                                        stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
        deadline = time.monotonic() + 20
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fake ICICI did not start: " + log.read_text())
            time.sleep(0.02)
        self.port = int(ready.read_text())
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The SDK's config.API_URL (the gateway's icici.api_url)."""
        return f"{self.root}/breezeapi/api/v1/"

    @property
    def order_feed_url(self) -> str:
        """The order notifications' socket.io URL (ICICI's livefeeds host)."""
        return f"{self.root}/?feed=orders"

    @property
    def security_master_url(self) -> str:
        return f"{self.root}/MotherAppMaster/SecurityMaster.zip"

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

    def session(self, api_key: str = DEFAULT_KEY, api_secret: str = DEFAULT_SECRET, user_id: str = DEFAULT_USER,
                session_key: str = "sk-1") -> str:
        """A live session; its session_token (base64 user_id:session_key)."""
        token: str = self.post("session", api_key=api_key, api_secret=api_secret, user_id=user_id,
                               session_key=session_key)["session_token"]
        return token

    def orders(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.state()["orders"]
        return result
