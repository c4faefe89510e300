"""Starting and driving the fake Kite Connect (fake_kite.py) from a test: its process, its
control endpoints, and the SDK ticker client process (ticker_client.py)."""
from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent


class FakeKiteProcess:
    """``with FakeKiteProcess(tmp_path) as fake:`` runs fake_kite.py until the block ends."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def __enter__(self) -> "FakeKiteProcess":
        ready = self.directory / "fake-kite.port"
        self.process = subprocess.Popen([sys.executable, str(HERE / "fake_kite.py"), "--port", "0",
                                         "--ready-file", str(ready)],
                                        stdout=subprocess.DEVNULL, stderr=open(self.directory / "fake-kite.log", "wb"))
        deadline = time.monotonic() + 15
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fake Kite did not start: " + (self.directory / "fake-kite.log").read_text())
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
    def ws_root(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

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

    def orders(self, user_id: str = "AB1234") -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.state()["orders"].get(user_id, [])
        return result


class TickerClient:
    """The SDK's KiteTicker in its own process; ``next(kind)`` waits for its next such line."""

    def __init__(self, fake: FakeKiteProcess, api_key: str, access_token: str, mode: str, tokens: list[int]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "ticker_client.py"), fake.ws_root, api_key, mode,
             ",".join(str(t) for t in tokens)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.process.stdin is not None
        self.process.stdin.write(access_token.encode() + b"\n")
        self.process.stdin.flush()
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.put(json.loads(raw))

    def next(self, event: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {event} from the ticker client")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line["event"] == event:
                return line

    def drain(self) -> Iterator[dict[str, Any]]:
        while not self.lines.empty():
            yield self.lines.get()

    def close(self) -> None:
        self.process.kill()
        self.process.wait(10)
