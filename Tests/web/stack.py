"""The system the web tests run against, started as a user would: a throwaway PostgreSQL cluster
(scripts/pg-cluster.sh), `algotrader migrate`, users and paper strategies made with the admin
commands, `algotrader serve` with the built-in synthetic feed, and `algotrader web` in front of it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "config" / "algotrader.yaml")
PASSWORDS = {"root": "root-password-1", "tara": "tara-password-1", "omar": "omar-password-1", "ivy": "ivy-password-1"}
ROLES = {"root": "admin", "tara": "trader", "omar": "trader", "ivy": "investor"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def binary() -> str:
    for candidate in (os.environ.get("ALGOTRADER_TEST_BINARY", ""), ".build/debug/algotrader", ".build/release/algotrader"):
        if candidate and (ROOT / candidate).exists():
            return str(ROOT / candidate)
    raise RuntimeError("no algotrader binary: run swift build first")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Stack:
    directory: Path
    pg_port: int
    http_port: int = field(default_factory=free_port)
    feed_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    strategy_token: str = ""

    @property
    def database_url(self) -> str:
        return subprocess.run([str(ROOT / "scripts/pg-cluster.sh"), "url", str(self.pg_port)], check=True,
                              capture_output=True, text=True).stdout.strip()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALGOTRADER_")}
        d = self.directory
        env.update({
            "ALGOTRADER_DATABASE_URL": self.database_url,
            "ALGOTRADER_MARKET_DATA_CONNECT": f"tcp://127.0.0.1:{self.feed_port}",
            "ALGOTRADER_BUS_BIND": f"ipc://{d}/bus.ipc",
            "ALGOTRADER_BUS_REPLAY_BIND": f"ipc://{d}/replay.ipc",
            "ALGOTRADER_GATEWAY_BIND": f"ipc://{d}/gateway.ipc",
            "ALGOTRADER_CONTROL_BIND": f"ipc://{d}/control.ipc",
            "ALGOTRADER_STRATEGIES_BIND": f"ipc://{d}/strategies.ipc",
            "ALGOTRADER_CONTROL_FORWARDER_SECRET_FILE": str(d / "forwarder.secret"),
            "ALGOTRADER_JOURNAL_DIR": str(d / "journal"),
            "ALGOTRADER_METRICS_BIND": "",
            "ALGOTRADER_HTTP_BIND": f"127.0.0.1:{self.http_port}",
            "ALGOTRADER_LOGGING_LEVEL": "warning",
            # The wall clock's 15:20 IST square-off must not close the test's positions.
            "ALGOTRADER_MARKET_SESSION_ACTIONS": "false",
        })
        return env

    def admin(self, *arguments: str, stdin: str | None = None) -> str:
        out = subprocess.run([binary(), *arguments, "--config", CONFIG], input=stdin, env=self.environment(), check=True,
                             capture_output=True, text=True)
        return out.stdout

    def start(self) -> None:
        cluster = str(ROOT / "scripts/pg-cluster.sh")
        data = str(ROOT / ".data" / f"pg-web-{self.pg_port}")
        subprocess.run([cluster, "reset", data], check=True, capture_output=True)
        subprocess.run([cluster, "start", data, str(self.pg_port)], check=True, capture_output=True)
        secret = self.directory / "forwarder.secret"
        secret.write_text("web-test-forwarder-secret-" + os.urandom(8).hex())
        secret.chmod(0o600)
        self.admin("migrate")
        for name, role in ROLES.items():
            self.admin("user", "add", name, "--email", f"{name}@example.com", "--role", role, stdin=PASSWORDS[name] + "\n")
        for name, symbol in (("tara", "RELIANCE"), ("omar", "INFY")):
            self.admin("broker", "add", "--user", name, "--name", "paper", "--api-type", "zerodha", "--mode", "paper")
            self.admin("risk", "set", "--user", name, "--daily-loss-limit", "50000", "--max-position-size", "10000000",
                       "--max-drawdown-percent", "50", "--max-risk-per-trade", "5")
            self.admin("strategy", "add", "--user", name, "--name", f"sma-{symbol}", "--type", "sma_crossover",
                       "--params", json.dumps({"symbol": symbol, "fast": 5, "slow": 20, "quantity": 10}))
        # Tara also has a second SMA (the browser test stops it) and an external strategy on the
        # SDK that leaves two LIMIT orders working (the browser test cancels one).
        self.admin("strategy", "add", "--user", "tara", "--name", "sma-TCS", "--type", "sma_crossover",
                   "--params", json.dumps({"symbol": "TCS", "fast": 5, "slow": 20, "quantity": 10}))
        self.admin("strategy", "add", "--user", "tara", "--name", "limits", "--type", "external",
                   "--params", json.dumps({"instruments": ["NSE:RELIANCE"]}))
        self.strategy_token = self.admin("strategy", "token", "limits").strip()
        self.spawn("serve", log="serve.log")
        self.wait(lambda: (self.directory / "control.ipc").exists(), "the engine's control socket")
        self.spawn("web", log="web.log")
        self.wait(lambda: self.reachable(), "the web server")
        for name in ROLES:
            self.tokens[name] = self.login(name)

    def spawn(self, command: str, log: str) -> None:
        with open(self.directory / log, "wb") as out:
            self.processes.append(subprocess.Popen([binary(), command, "--config", CONFIG], env=self.environment(), stderr=out))

    def strategy_id(self, name: str) -> str:
        for s in self.call("GET", "/api/v1/strategies?limit=1000", token=self.tokens["root"]).json():
            if s["name"] == name:
                found: str = s["strategy_id"]
                return found
        raise KeyError(name)

    def start_limits_strategy(self) -> None:
        """The SDK strategy leaving two BUY LIMITs working (Tests/python/kite_orders_strategy.py)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALGOTRADER_")}
        env.update({"PYTHONPATH": str(ROOT / "sdk/python"), "PYTHONUNBUFFERED": "1",
                    "ALGOTRADER_STRATEGY_ENDPOINT": f"ipc://{self.directory}/strategies.ipc",
                    "ALGOTRADER_STRATEGY": self.strategy_id("limits"), "ALGOTRADER_STRATEGY_TOKEN": self.strategy_token})
        with open(self.directory / "limits.log", "wb") as out:
            self.processes.append(subprocess.Popen(
                ["python3", str(ROOT / "Tests/python/kite_orders_strategy.py"), "working", str(self.directory / "limits.json")],
                env=env, stderr=out, stdout=subprocess.DEVNULL))

    def feed(self, count: int, rate: int) -> None:
        """Synthetic ticks for today's session, so the strategies trade."""
        day = subprocess.run(["date", "+%F"], env={**os.environ, "TZ": "Asia/Kolkata"}, check=True, capture_output=True,
                             text=True).stdout.strip()
        subprocess.run([binary(), "feed", "--bind", f"tcp://127.0.0.1:{self.feed_port}", "--count", str(count), "--rate",
                        str(rate), "--session-day", day], env=self.environment(), check=True, capture_output=True)

    def wait(self, ready: Any, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            for p in self.processes:
                if p.poll() is not None:
                    raise RuntimeError(f"{p.args!r} exited {p.returncode} while waiting for {what}: see {self.directory}")
            time.sleep(0.1)
        raise RuntimeError(f"no {what} within {timeout} s: see {self.directory}")

    def reachable(self) -> bool:
        try:
            return self.call("GET", "/api/v1/health").status == 200
        except OSError:
            return False

    def login(self, name: str) -> str:
        answer = self.call("POST", "/api/v1/session", body={"username": name, "password": PASSWORDS[name]})
        assert answer.status == 201, answer.body
        token: str = answer.json()["token"]
        return token

    def call(self, method: str, path: str, token: str | None = None, body: Any = None) -> Answer:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Answer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers), error.read())

    def stop(self) -> None:
        for p in reversed(self.processes):
            p.terminate()
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run([str(ROOT / "scripts/pg-cluster.sh"), "stop", str(ROOT / ".data" / f"pg-web-{self.pg_port}")],
                       capture_output=True)


def make(pg_port: int) -> Stack:
    return Stack(directory=Path(tempfile.mkdtemp(prefix="algotrader-web-")), pg_port=pg_port)
