"""The Runner against a scripted engine: a real pyzmq ROUTER played by the test in a thread."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, List, Tuple

from algotrader_sdk import Bar, Event, Strategy, Tick
from algotrader_sdk.connection import VERSION

from conftest import HEARTBEAT_TIMEOUT_MS, Harness, ScriptedEngine, bar, order_event, tick


class Recorder(Strategy):
    """Every handler call, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: List[Tuple[str, Any]] = []

    def on_start(self) -> None:
        self.calls.append(("start", dict(self.params)))

    def on_tick(self, tick: Tick) -> None:
        self.calls.append(("tick", tick))

    def on_bar(self, bar: Bar) -> None:
        self.calls.append(("bar", bar))

    def on_order(self, order: Event) -> None:
        self.calls.append(("order", order))

    def on_fill(self, fill: Event) -> None:
        self.calls.append(("fill", fill))

    def on_stop(self) -> None:
        self.calls.append(("stop", None))

    def names(self) -> List[str]:
        return [name for name, _ in self.calls]


def test_hello_welcome_dispatch_in_order_and_stop(harness: Harness) -> None:
    s = Recorder()

    def script(engine: ScriptedEngine) -> None:
        hello = engine.expect("hello")
        assert hello.body == {"strategy": "my-sma", "token": "s3cret-token", "sdk": VERSION}
        engine.welcome(hello.identity, parameters={"instruments": ["NSE:RELIANCE"], "fast": 5},
                       positions=[{"symbol": "RELIANCE", "exchange": "NSE", "quantity": 20}])
        who = hello.identity
        engine.send(who, "tick", tick("RELIANCE", "2450.05", ts="2026-11-24T03:45:00.000001Z"))
        engine.send(who, "bar", bar("RELIANCE", "2450", "2451.5", "2449.95", "2451"))
        engine.send(who, "order", order_event(None, side="SELL", quantity=20, status="OPEN"))
        engine.send(who, "position", '{"symbol":"RELIANCE","exchange":"NSE","quantity":0}')
        engine.send(who, "fill", order_event(None, side="SELL", quantity=20, status="FILLED", filled=20, fill=(20, "2450.1")))
        engine.send(who, "heartbeat", "{}")
        engine.send(who, "tick", tick("RELIANCE", "2450.1"))
        engine.send(who, "stop", '{"reason":"the strategy was stopped"}')
        engine.send(who, "tick", tick("RELIANCE", "9999"))  # after stop: never dispatched

    assert harness.run(s, script) == 0
    assert s.names() == ["start", "tick", "bar", "order", "fill", "tick", "stop"]
    assert s.calls[0][1] == {"instruments": ["NSE:RELIANCE"], "fast": 5}
    first_tick = s.calls[1][1]
    assert first_tick.price == Decimal("2450.05") and first_tick.ts == datetime(2026, 11, 24, 3, 45, 0, 1, tzinfo=timezone.utc)
    assert s.calls[2][1].high == Decimal("2451.5")
    assert s.calls[4][1].fill_price == Decimal("2450.1") and s.calls[4][1].client_order_id is None
    assert s.strategy_id == "0190a0c2-7d1e-7a8b-9c0d-1e2f3a4b5c6d" and s.name == "my-sma"
    assert s.position("RELIANCE") == 0  # 20 from the welcome, then the position message


def test_heartbeats_are_sent_at_the_welcome_interval(harness: Harness) -> None:
    s = Recorder()

    def script(engine: ScriptedEngine) -> None:
        hello = engine.expect("hello")
        engine.welcome(hello.identity)
        start = time.monotonic()
        while time.monotonic() - start < 0.5:
            engine.poll(0.05)
            engine.send(hello.identity, "heartbeat", "{}")  # the engine's, so the process stays
        beats = engine.heartbeats(hello.identity)
        assert 4 <= len(beats) <= 20, len(beats)  # ~10 at 50 ms
        assert all(b.body == {} for b in beats)
        gaps = [b.at - a.at for a, b in zip(beats, beats[1:])]
        assert max(gaps) < 0.25, gaps
        engine.send(hello.identity, "stop", "{}")

    assert harness.run(s, script) == 0
    assert s.names() == ["start", "stop"]


def test_heartbeats_go_out_while_a_stream_keeps_the_process_busy(harness: Harness) -> None:
    # Ticks arrive faster than the handler takes them, so the process always has one waiting:
    # it must still send heartbeats, or the engine drops it as silent.
    class Slow(Recorder):
        def on_tick(self, tick: Tick) -> None:
            super().on_tick(tick)
            time.sleep(0.004)

    s = Slow()
    count = 300

    def script(engine: ScriptedEngine) -> None:
        hello = engine.expect("hello")
        engine.welcome(hello.identity)
        start = time.monotonic()
        for i in range(count):
            engine.send(hello.identity, "tick", tick("RELIANCE", f"{2450 + i}.05"))
            engine.poll(0.001)
        # The process needs ~1.2 s for them; wait until it says it has the last.
        engine.send(hello.identity, "stop", "{}")
        deadline = time.monotonic() + 5
        while len(s.calls) < count + 1 and time.monotonic() < deadline:
            engine.poll(0.01)
        busy_until = time.monotonic()
        beats = [b.at for b in engine.heartbeats(hello.identity) if start <= b.at <= busy_until]
        assert busy_until - start > 0.6, "the handler was meant to be slower than the stream"
        assert len(beats) >= 5, f"{len(beats)} heartbeats in {busy_until - start:.2f} s of a busy process"

    assert harness.run(s, script) == 0
    assert s.names().count("tick") == count


def test_a_busy_hello_is_retried(harness: Harness) -> None:
    s = Recorder()

    def script(engine: ScriptedEngine) -> None:
        first = engine.expect("hello")
        engine.send(first.identity, "error", json.dumps({
            "error": "strategy my-sma is connected from another process; retry once it has been silent for 5000 ms",
            "retry": True}))
        second = engine.expect("hello")
        assert second.body == first.body
        engine.welcome(second.identity)
        engine.send(second.identity, "stop", "{}")

    assert harness.run(s, script) == 0
    assert s.names() == ["start", "stop"]


def test_a_permanent_refusal_exits_2(harness: Harness) -> None:
    s = Recorder()

    def script(engine: ScriptedEngine) -> None:
        hello = engine.expect("hello")
        engine.send(hello.identity, "error", '{"error":"unknown or stopped strategy, or a wrong token"}')
        assert engine.quiet(0.3) == []  # no second hello

    assert harness.run(s, script) == 2
    assert s.calls == []  # neither on_start nor on_stop


def test_a_silent_engine_makes_it_connect_and_say_hello_again(harness: Harness) -> None:
    s = Recorder()

    def script(engine: ScriptedEngine) -> None:
        first = engine.expect("hello")
        engine.welcome(first.identity, positions=[{"symbol": "RELIANCE", "exchange": "NSE", "quantity": 5}])
        engine.send(first.identity, "tick", tick("RELIANCE", "100"))
        went_silent = time.monotonic()
        second = engine.expect("hello", timeout=3)  # heartbeats of the first connection skipped
        waited = time.monotonic() - went_silent
        assert HEARTBEAT_TIMEOUT_MS / 1000 * 0.8 < waited < 2.5, waited
        assert second.identity != first.identity and second.body == first.body
        engine.welcome(second.identity, positions=[{"symbol": "RELIANCE", "exchange": "NSE", "quantity": 7}])
        engine.send(second.identity, "tick", tick("RELIANCE", "101"))
        engine.send(second.identity, "stop", "{}")

    assert harness.run(s, script) == 0
    assert s.names() == ["start", "tick", "tick", "stop"]  # on_start once
    assert s.position("RELIANCE") == 7  # the second welcome's


def test_a_process_the_engine_dropped_says_hello_again(harness: Harness) -> None:
    # An engine that dropped a process (it was silent too long, say a handler blocked) answers
    # its heartbeats with an error and sends nothing else; those errors are no sign of life.
    s = Recorder()

    def script(engine: ScriptedEngine) -> None:
        first = engine.expect("hello")
        engine.welcome(first.identity)
        dropped = time.monotonic()
        while True:
            message = engine.recv(timeout=3, heartbeats=True)
            if message.topic == "hello":
                break
            assert message.topic == "heartbeat" and message.identity == first.identity
            engine.send(first.identity, "error", '{"error":"say hello first (with your strategy and its token)"}')
        assert time.monotonic() - dropped < 2.5
        engine.welcome(message.identity)
        engine.send(message.identity, "stop", "{}")

    assert harness.run(s, script) == 0
    assert s.names() == ["start", "stop"]


def test_sigterm_ends_the_run_with_on_stop(harness: Harness) -> None:
    s = Recorder()
    before = signal.getsignal(signal.SIGTERM)

    def script(engine: ScriptedEngine) -> None:
        hello = engine.expect("hello")
        engine.welcome(hello.identity)
        engine.send(hello.identity, "tick", tick("RELIANCE", "100"))
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    assert harness.run(s, script) == 0
    assert s.names() == ["start", "tick", "stop"]
    assert signal.getsignal(signal.SIGTERM) == before  # put back


def test_sigterm_ends_the_run_even_when_the_parent_left_it_blocked(harness: Harness) -> None:
    """Failed before (hung): a strategy started from a thread with signals blocked (the engine's
    lock-step replay spawns them from a Dispatch worker) never saw SIGTERM."""
    s = Recorder()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    def script(engine: ScriptedEngine) -> None:
        hello = engine.expect("hello")
        engine.welcome(hello.identity)
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    try:
        assert harness.run(s, script) == 0
        assert s.names() == ["start", "stop"]
        assert signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, set()), "the mask is put back"
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def test_heartbeat_settings_come_from_the_welcome(harness: Harness) -> None:
    def script(engine: ScriptedEngine) -> None:
        hello = engine.expect("hello")
        engine.welcome(hello.identity, interval_ms=120, timeout_ms=900)
        engine.send(hello.identity, "stop", "{}")

    assert harness.run(Recorder(), script) == 0
    assert harness.runner.heartbeat_interval == 0.12 and harness.runner.heartbeat_timeout == 0.9


class BuyOnEveryTick(Recorder):
    def on_tick(self, tick: Tick) -> None:
        super().on_tick(tick)
        self.buy(tick.symbol, 1)


def test_lockstep_answers_each_step_after_its_requests_and_sends_no_heartbeats(harness: Harness) -> None:
    s = BuyOnEveryTick()

    def script(engine: ScriptedEngine) -> None:
        hello = engine.expect("hello")
        # A short timeout that a live session would act on: in lock step the process must wait.
        engine.welcome(hello.identity, interval_ms=50, timeout_ms=100, lockstep=True)
        who = hello.identity
        for step in (1, 2):
            engine.send(who, "tick", json.dumps({**json.loads(tick("RELIANCE", "2450.05")), "step": step}))
            order = engine.recv(heartbeats=True)
            assert order.topic == "order.new" and order.body["symbol"] == "RELIANCE", order.raw
            done = engine.recv(heartbeats=True)
            assert (done.topic, done.body) == ("done", {"step": step}), done.raw
            time.sleep(0.4)  # four heartbeat timeouts of silence: no hello again, no heartbeat
        engine.send(who, "position", '{"symbol":"RELIANCE","exchange":"NSE","quantity":2}')  # no step: no done
        engine.send(who, "stop", '{"step":3}')
        assert engine.quiet(0.3) == []
        assert [m.topic for m in engine.received] == ["hello", "order.new", "done", "order.new", "done"]

    assert harness.run(s, script) == 0
    assert s.names() == ["start", "tick", "tick", "stop"]
    assert s.position("RELIANCE") == 2


class EditRecorder(Recorder):
    def on_edit(self) -> None:
        self.calls.append(("edit", dict(self.params)))


def test_a_welcome_in_session_updates_params_and_positions_and_calls_on_edit(harness: Harness) -> None:
    s = EditRecorder()

    def script(engine: ScriptedEngine) -> None:
        hello = engine.expect("hello")
        engine.welcome(hello.identity, parameters={"instruments": ["NSE:RELIANCE"], "fast": 5})
        engine.welcome(hello.identity, parameters={"instruments": ["NSE:RELIANCE"], "fast": 7},
                       positions=[{"symbol": "RELIANCE", "exchange": "NSE", "quantity": 10}])
        engine.send(hello.identity, "stop", "{}")
        assert [m.topic for m in engine.received if m.topic != "heartbeat"] == ["hello"], "no second hello"

    assert harness.run(s, script) == 0
    assert s.names() == ["start", "edit", "stop"]
    assert s.calls[1][1]["fast"] == 7 and s.params["fast"] == 7
    assert s.position("RELIANCE") == 10
