"""The ICICI Direct gateway end to end: the official breeze-connect SDK in the gateway process
against the fake Breeze (fake_icici.py: its REST with signed calls, the security master, the
order-notification socket), and the engine's half of docs/protocol.md played by a ROUTER in the
test. One gateway serves the module (two accounts: B_MAIN, and B_EXP whose session the tests
expire and renew)."""
from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from algotrader_brokers.broker_orders import order_tag
from icici_rig import API_KEY, APP_KEYS, B_EXP, B_MAIN, KEYS, RENEWED, SECRET, USERS, IciciRig


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IciciRig]:
    running = IciciRig(tmp_path_factory.mktemp("icici-gateway"))
    yield running
    running.close()


def test_hello_names_the_brokers_and_funds_follow_the_welcome(rig: IciciRig) -> None:
    hello = rig.engine.messages("hello")[0]
    assert hello == {"gateway_id": "icici-test", "broker_ids": [B_MAIN, B_EXP], "role": "gateway", "api_type": "icici"}
    funds = rig.engine.wait_for("funds", lambda p: p["broker_id"] == B_MAIN)[0]
    assert funds["cash"] == 1_000_000.0


@pytest.mark.parametrize("fields, icici", [
    ({"order_type": "LIMIT", "product": "CNC", "price": 1498.5, "transaction_type": "SELL"},
     {"stock_code": "INFTEC", "product_type": "Cash", "action": "Sell", "order_type": "Limit", "price": "1498.50",
      "validity": "Day"}),
    # MARKET: the SDK's aggressive limit, 3 % above the quote's LTP (1500) for a cash buy.
    ({"order_type": "MARKET", "product": "CNC", "price": None},
     {"order_type": "Limit", "price": "1545.00"}),
    ({"order_type": "SL", "product": "NRML", "exchange": "NFO", "symbol": "NIFTY26DECFUT", "quantity": 75,
      "price": 24010.0, "trigger_price": 24000.0},
     {"stock_code": "NIFTY", "product_type": "Futures", "order_type": "StopLoss", "stoploss": "24000.00",
      "expiry_date": "29-Dec-2026"}),
    ({"order_type": "LIMIT", "product": "MIS", "exchange": "NFO", "symbol": "NIFTY26D2224000PE", "quantity": 75,
      "price": 101.5},
     {"product_type": "Options", "right": "Put", "strike_price": 24000.0, "expiry_date": "22-Dec-2026"}),
    ({"order_type": "LIMIT", "product": "CNC", "validity": "IOC", "price": 1500.0}, {"validity": "IoC"}),
])
def test_each_order_type_product_and_validity_is_placed_as_breeze_takes_it(rig: IciciRig, fields: dict[str, Any],
                                                                           icici: dict[str, Any]) -> None:
    request = rig.order(**fields)
    accepted = rig.report(request["order_id"], "accepted")
    order = rig.icici_order(accepted["broker_order_id"])
    assert {k: order[k] for k in icici} == icici
    assert order["user_remark"] == order_tag(request["order_id"])
    assert int(order["quantity"]) == request["quantity"]


@pytest.mark.parametrize("fields, words", [
    ({"product": "MIS"}, "no intraday (MIS) equity orders"),
    ({"order_type": "SL-M", "product": "CNC", "price": None, "trigger_price": 1490.0}, "no stop-loss market order"),
    ({"validity": "TTL", "product": "CNC"}, "validity DAY or IOC"),
    ({"symbol": "NOSUCH", "product": "CNC"}, "not in ICICI Direct's security master"),
    ({"exchange": "NFO", "symbol": "NIFTY26DECFUT", "product": "NRML", "quantity": 10}, "multiple of the lot size 75"),
    ({"exchange": "MCX", "symbol": "GOLD", "product": "NRML"}, "does not trade on exchange"),
])
def test_what_breeze_cannot_take_is_rejected_with_the_reason_and_never_sent(rig: IciciRig, fields: dict[str, Any],
                                                                             words: str) -> None:
    placed = len(rig.fake.orders())
    request = rig.order(**fields)
    rejected = rig.report(request["order_id"], "rejected")
    assert words in rejected["reason"]
    assert len(rig.fake.orders()) == placed


def test_fills_are_reported_with_trade_ids_and_a_reread_adds_none(rig: IciciRig) -> None:
    request = rig.order(order_type="LIMIT", product="CNC", price=1500.25, quantity=10)
    order_id = rig.report(request["order_id"], "accepted")["broker_order_id"]
    first = rig.fake.post("fill", order_id=order_id, quantity=4, price=1500.0)["trade_id"]
    second = rig.fake.post("fill", order_id=order_id, quantity=6, price=1499.5)["trade_id"]
    rig.report(request["order_id"], "fill", count=2)
    fills = rig.engine.reports(request["order_id"], "fill")
    assert [(f["exec_id"], f["fill_quantity"], f["fill_price"]) for f in fills] == [
        (f"{order_id}:{first}", 4, 1500.0), (f"{order_id}:{second}", 6, 1499.5)]
    assert all(f["ts"].endswith("Z") for f in fills)
    rig.engine.send("reconcile.request", {"request_id": str(uuid.uuid4()), "broker_id": B_MAIN, "orders": []})
    snapshot = rig.engine.wait_for("reconcile", lambda p: p["broker_id"] == B_MAIN)[-1]
    assert snapshot.get("error") is None
    rig.settle(2.5)
    again = rig.engine.reports(request["order_id"], "fill")
    assert len({f["report_id"] for f in again}) == 2 and len({f["exec_id"] for f in again}) == 2


def test_notifications_bring_fills_before_the_poll_would(tmp_path: Path) -> None:
    # A poll of a minute: only the order-notification socket can report the fill within seconds.
    slow = IciciRig(tmp_path, poll_seconds=60.0)
    try:
        deadline = time.monotonic() + 10
        while not slow.fake.state()["stream"]["connections"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [c for c in slow.fake.state()["stream"]["connections"] if c.get("feed") == "orders"]
        request = slow.order(order_type="LIMIT", product="CNC", price=1500.0, quantity=3)
        order_id = slow.report(request["order_id"], "accepted")["broker_order_id"]
        slow.fake.post("fill", order_id=order_id)
        fill = slow.report(request["order_id"], "fill", timeout=8)
        assert fill["fill_quantity"] == 3
    finally:
        slow.close()


def test_modify_and_cancel_reach_breeze_and_come_back_as_reports(rig: IciciRig) -> None:
    request = rig.order(order_type="LIMIT", product="CNC", price=1490.0, quantity=5)
    order_id = rig.report(request["order_id"], "accepted")["broker_order_id"]
    rig.request("order.modify", request, quantity=8, price=1491.5)
    modified = rig.report(request["order_id"], "modified")
    assert (modified["quantity"], modified["price"]) == (8, 1491.5)
    assert (rig.icici_order(order_id)["quantity"], rig.icici_order(order_id)["price"]) == ("8", "1491.50")
    rig.request("order.cancel", request, reason="the strategy stopped")
    cancelled = rig.report(request["order_id"], "cancelled")
    assert cancelled["broker_order_id"] == order_id
    assert rig.icici_order(order_id)["status"] == "Cancelled"


def test_a_rejection_after_breeze_took_the_order_is_reported_with_what_is_known(rig: IciciRig) -> None:
    rig.fake.post("reject_next", api_key=API_KEY, count=1)
    request = rig.order(order_type="LIMIT", product="CNC", price=1500.0)
    rejected = rig.report(request["order_id"], "rejected")
    assert rejected["broker_order_id"] and "rejected by ICICI Direct" in rejected["reason"]


def test_a_refusal_from_breeze_is_final_with_its_words(rig: IciciRig) -> None:
    rig.fake.post("fail", method="POST", path="order", status=500, error="Insufficient balance in your account")
    request = rig.order(order_type="LIMIT", product="CNC", price=1500.0)
    rejected = rig.report(request["order_id"], "rejected")
    assert "Insufficient balance in your account" in rejected["reason"]
    posts = [r for r in rig.fake.state()["requests"] if r["method"] == "POST" and r["path"] == "order"
             and order_tag(request["order_id"]) in r["body"]]
    assert len(posts) == 1


def test_a_placement_whose_answer_was_lost_is_found_by_its_tag_and_not_placed_twice(rig: IciciRig) -> None:
    rig.fake.post("fail", method="POST", path="order", status=502, error="", raw="<html>502 Bad Gateway</html>",
                  http=502, after=True)
    request = rig.order(order_type="LIMIT", product="CNC", price=1500.0, quantity=2)
    accepted = rig.report(request["order_id"], "accepted", timeout=20)
    mine = [o for o in rig.fake.orders() if o["user_remark"] == order_tag(request["order_id"])]
    assert [o["order_id"] for o in mine] == [accepted["broker_order_id"]]


def test_the_session_expires_rejects_new_orders_holds_cancels_and_a_new_token_resumes(rig: IciciRig) -> None:
    request = rig.order(broker=B_EXP, order_type="LIMIT", product="CNC", price=1480.0)
    order_id = rig.report(request["order_id"], "accepted")["broker_order_id"]
    rig.fake.post("expire", api_key=APP_KEYS[B_EXP])
    cancel = rig.request("order.cancel", request, reason="stop")
    expired = rig.engine.wait_for("session", lambda p: p["broker_id"] == B_EXP and p["status"] == "expired", timeout=15)
    assert "Session key is expired." in expired[-1]["reason"]
    refused = rig.order(broker=B_EXP, order_type="LIMIT", product="CNC", price=1480.0)
    assert "session expired" in rig.report(refused["order_id"], "rejected")["reason"]
    # The morning login: a new session key, handed over in a new welcome.
    token = rig.fake.session(APP_KEYS[B_EXP], SECRET, USERS[B_EXP], RENEWED)
    rig.credentials[B_EXP] = dict(rig.credentials[B_EXP], session_token=token)
    rig.engine.send("welcome", rig.welcome([B_MAIN, B_EXP]))
    rig.engine.wait_for("session", lambda p: p["broker_id"] == B_EXP and p["status"] == "active", timeout=15)
    rig.engine.send("order.cancel", cancel)  # the engine's resend of what was not acknowledged
    assert rig.report(request["order_id"], "cancelled", timeout=15)["broker_order_id"] == order_id
    log = rig.log_text()
    for secret in (SECRET, KEYS[B_MAIN], KEYS[B_EXP], RENEWED, token, *rig.tokens.values()):
        assert secret not in log


def test_after_a_restart_the_engines_orders_are_adopted_and_their_fills_reported_once(rig: IciciRig) -> None:
    request = rig.order(order_type="LIMIT", product="CNC", price=1500.0, quantity=4)
    order_id = rig.report(request["order_id"], "accepted")["broker_order_id"]
    rig.fake.post("fill", order_id=order_id, quantity=1)
    rig.report(request["order_id"], "fill")
    rig.stop_gateway()
    rig.fake.post("fill", order_id=order_id, quantity=3)   # while the gateway was down
    rig.start_gateway()
    request_id = str(uuid.uuid4())
    rig.engine.send("reconcile.request", {"request_id": request_id, "broker_id": B_MAIN,
                                          "orders": [{"order_id": request["order_id"], "broker_order_id": order_id}]})
    snapshot = rig.engine.wait_for("reconcile", lambda p: p["request_id"] == request_id, timeout=20)[-1]
    assert snapshot.get("error") is None
    mine = [o for o in snapshot["orders"] if o.get("broker_order_id") == order_id]
    assert mine and mine[0]["filled_quantity"] == 4
    rig.settle(2.5)
    fills = rig.engine.reports(request["order_id"], "fill")
    assert len({f["exec_id"] for f in fills}) == len(fills)


def test_the_sdk_writes_no_logs_in_the_working_directory(rig: IciciRig) -> None:
    assert not (rig.directory / "readonly" / "logs").exists()
