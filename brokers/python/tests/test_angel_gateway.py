"""The Angel One gateway end to end: the official smartapi-python SDK in the gateway process
against the fake SmartAPI (fake_angel.py, Angel's documented REST and order-status WebSocket),
and the engine's half of docs/protocol.md played by a ROUTER in the test. One gateway serves the
module (two accounts: B_MAIN, and B_EXP whose token is expired and renewed)."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from algotrader_brokers.broker_orders import order_tag
from angel_rig import API_KEY, B_EXP, B_MAIN, CLIENTS, FEEDS, JWTS, RENEWED, AngelRig


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AngelRig]:
    running = AngelRig(tmp_path_factory.mktemp("angel-gateway"))
    yield running
    running.close()


def test_hello_names_the_brokers_and_funds_follow_the_welcome(rig: AngelRig) -> None:
    hello = rig.engine.messages("hello")[0]
    assert hello == {"gateway_id": "angel-test", "broker_ids": [B_MAIN, B_EXP], "role": "gateway", "api_type": "angel"}
    funds = rig.engine.wait_for("funds", lambda p: p["broker_id"] == B_MAIN)[0]
    assert isinstance(funds["cash"], float) and funds["cash"] > 0


@pytest.mark.parametrize("fields, angel", [
    ({"order_type": "MARKET", "product": "MIS", "price": None},
     {"variety": "NORMAL", "ordertype": "MARKET", "producttype": "INTRADAY", "duration": "DAY",
      "tradingsymbol": "INFY-EQ", "symboltoken": "1594"}),
    ({"order_type": "LIMIT", "product": "CNC", "price": 1498.55, "transaction_type": "SELL"},
     {"variety": "NORMAL", "ordertype": "LIMIT", "producttype": "DELIVERY", "transactiontype": "SELL"}),
    ({"order_type": "SL", "product": "NRML", "exchange": "NFO", "symbol": "NIFTY26DECFUT", "quantity": 65,
      "price": 24010.0, "trigger_price": 24000.0},
     {"variety": "STOPLOSS", "ordertype": "STOPLOSS_LIMIT", "producttype": "CARRYFORWARD",
      "tradingsymbol": "NIFTY30DEC26FUT", "orderstatus": "trigger pending"}),
    ({"order_type": "SL-M", "product": "MIS", "price": None, "trigger_price": 1490.0, "transaction_type": "SELL"},
     {"variety": "STOPLOSS", "ordertype": "STOPLOSS_MARKET", "producttype": "INTRADAY"}),
    ({"order_type": "LIMIT", "product": "MIS", "validity": "IOC", "price": 1500.0},
     {"duration": "IOC"}),
])
def test_each_order_type_product_and_validity_is_placed_as_angel_takes_it(rig: AngelRig, fields: dict[str, Any],
                                                                          angel: dict[str, Any]) -> None:
    request = rig.order(**fields)
    accepted = rig.report(request["order_id"], "accepted")
    order = rig.angel_order(accepted["broker_order_id"])
    assert {k: order[k] for k in angel} == angel
    assert order["ordertag"] == order_tag(request["order_id"])
    assert int(order["quantity"]) == request["quantity"]


def test_the_headers_carry_the_registered_ip_and_the_sdk_never_writes_logs(rig: AngelRig) -> None:
    # The gateway runs in a read-only directory (AngelRig): the SDK's ./logs would have failed.
    assert not (rig.directory / "readonly" / "logs").exists()
    log = rig.log_text()
    for secret in (*JWTS.values(), *FEEDS.values(), API_KEY):
        assert secret not in log


def test_fills_are_reported_with_fill_based_exec_ids_and_a_reread_adds_none(rig: AngelRig) -> None:
    request = rig.order(order_type="LIMIT", price=1500.25, quantity=10)
    orderid = rig.report(request["order_id"], "accepted")["broker_order_id"]
    first = rig.fake.post("fill", orderid=orderid, quantity=4, price=1500.0)["trade"]
    second = rig.fake.post("fill", orderid=orderid, quantity=6, price=1499.5)["trade"]
    rig.report(request["order_id"], "fill", count=2)
    fills = rig.engine.reports(request["order_id"], "fill")
    assert [(f["exec_id"], f["fill_quantity"], f["fill_price"]) for f in fills] == [
        (f"{orderid}:{first['fillid']}", 4, 1500.0), (f"{orderid}:{second['fillid']}", 6, 1499.5)]
    assert all(f["ts"].endswith("Z") for f in fills)
    rig.engine.send("reconcile.request", {"request_id": str(uuid.uuid4()), "broker_id": B_MAIN, "orders": []})
    rig.engine.wait_for("reconcile", lambda p: p["broker_id"] == B_MAIN)
    rig.settle(2.5)
    again = rig.engine.reports(request["order_id"], "fill")
    assert len({f["report_id"] for f in again}) == 2 and len({f["exec_id"] for f in again}) == 2


def test_modify_and_cancel_reach_angel_and_come_back_as_reports(rig: AngelRig) -> None:
    request = rig.order(order_type="LIMIT", price=1400.0, quantity=5)
    orderid = rig.report(request["order_id"], "accepted")["broker_order_id"]
    rig.request("order.modify", request, quantity=8, price=1401.5, trigger_price=None)
    modified = rig.report(request["order_id"], "modified")
    assert (modified["quantity"], modified["price"], modified["trigger_price"]) == (8, 1401.5, None)
    order = rig.angel_order(orderid)
    assert (int(order["quantity"]), float(order["price"])) == (8, 1401.5)
    rig.request("order.cancel", request, reason="strategy halted")
    assert rig.report(request["order_id"], "cancelled")["reason"] == "strategy halted"
    assert rig.angel_order(orderid)["orderstatus"] == "cancelled"
    rig.settle(1.5)
    assert len(rig.engine.reports(request["order_id"], "modified")) == 1


def test_angels_rejections_are_passed_through_in_its_words(rig: AngelRig) -> None:
    rms = "Your order has been rejected due to Insufficient Funds."
    rig.fake.post("reject_next", client_code=CLIENTS[B_MAIN], reasons=[rms])
    margin = rig.order(order_type="LIMIT", price=1500.0, quantity=100)
    assert rig.report(margin["order_id"], "rejected")["reason"] == rms
    unknown = rig.order(symbol="NOSUCHSCRIP")
    assert "Symbol Not Found (AB1009)" in rig.report(unknown["order_id"], "rejected")["reason"]
    ttl = rig.order(validity="TTL", validity_ttl=5)
    assert rig.report(ttl["order_id"], "rejected")["reason"] == "Angel One takes duration DAY or IOC, not TTL"


def test_an_expired_token_holds_the_broker_until_a_welcome_brings_a_new_one(rig: AngelRig) -> None:
    placed = rig.order(broker=B_EXP, order_type="LIMIT", price=1450.0)
    rig.report(placed["order_id"], "accepted")
    rig.fake.post("expire", jwt=JWTS[B_EXP])
    session = rig.engine.wait_for("session", lambda p: p["broker_id"] == B_EXP and p["status"] == "expired", timeout=15)[0]
    assert "AG8002" in session["reason"] or "AG8001" in session["reason"]
    refused = rig.order(broker=B_EXP)
    assert "session expired" in rig.report(refused["order_id"], "rejected")["reason"]
    cancel = rig.request("order.cancel", placed, reason="operator")
    rig.settle(1.0)
    assert not [a for a in rig.engine.messages("ack") if a["request_id"] == cancel["request_id"]]
    # The morning login stored a new token; the engine's next welcome carries it.
    rig.fake.post("session", api_key=API_KEY, client_code=CLIENTS[B_EXP], jwt=RENEWED, feed_token=FEEDS[B_EXP])
    rig.credentials[B_EXP] = {**rig.credentials[B_EXP], "jwt_token": RENEWED}
    rig.engine.send("welcome", rig.welcome([B_MAIN, B_EXP]))
    rig.engine.wait_for("session", lambda p: p["broker_id"] == B_EXP and p["status"] == "active", timeout=15)
    rig.engine.send("order.cancel", cancel)  # the engine's resend
    assert rig.report(placed["order_id"], "cancelled", timeout=15)["reason"] == "operator"
    assert RENEWED not in rig.log_text()


def test_a_reconciliation_lists_orders_fills_and_day_positions_in_the_engines_names(rig: AngelRig) -> None:
    request = rig.order(exchange="NFO", symbol="NIFTY26DECFUT", product="NRML", quantity=65, order_type="LIMIT",
                        price=24000.0)
    orderid = rig.report(request["order_id"], "accepted")["broker_order_id"]
    rig.fake.post("fill", orderid=orderid)
    rig.report(request["order_id"], "fill")
    rig.fake.post("overnight", client_code=CLIENTS[B_MAIN], exchange="NSE", tradingsymbol="SBIN-EQ", symboltoken="3045",
                  producttype="DELIVERY", quantity=7)
    rig.engine.send("reconcile.request", {"request_id": "r-angel-1", "broker_id": B_MAIN,
                                          "orders": [{"order_id": request["order_id"], "broker_order_id": orderid,
                                                      "status": "FILLED"}]})
    parts = rig.engine.wait_for("reconcile", lambda p: p["request_id"] == "r-angel-1")
    snapshot: dict[str, list[dict[str, Any]]] = {"orders": [], "executions": [], "positions": []}
    for part in parts:
        for key in snapshot:
            snapshot[key] += part.get(key) or []
    mine = [o for o in snapshot["orders"] if o["order_id"] == request["order_id"]]
    assert mine and mine[0]["symbol"] == "NIFTY26DECFUT" and mine[0]["status"] == "FILLED"
    assert any(e["broker_order_id"] == orderid and e["symbol"] == "NIFTY26DECFUT" for e in snapshot["executions"])
    nifty = [p for p in snapshot["positions"] if p["symbol"] == "NIFTY26DECFUT"]
    assert nifty and nifty[0]["product"] == "NRML" and nifty[0]["quantity"] >= 65
    assert not [p for p in snapshot["positions"] if p["symbol"] == "SBIN"], "a carried-forward position is not today's"


def test_a_restarted_gateway_finds_its_orders_by_tag_and_never_places_one_twice(rig: AngelRig) -> None:
    request = rig.order(order_type="LIMIT", price=1300.0, quantity=2)
    orderid = rig.report(request["order_id"], "accepted")["broker_order_id"]
    rig.stop_gateway()
    rig.fake.post("fill", orderid=orderid, quantity=1, price=1300.0)
    rig.start_gateway()
    # The engine names its working order, without Angel's id: the gateway finds it by its tag.
    rig.engine.send("reconcile.request", {"request_id": "r-angel-2", "broker_id": B_MAIN,
                                          "orders": [{"order_id": request["order_id"], "broker_order_id": None,
                                                      "status": "OPEN"}]})
    parts = rig.engine.wait_for("reconcile", lambda p: p["request_id"] == "r-angel-2")
    assert any(o.get("order_id") == request["order_id"] for part in parts for o in part.get("orders") or [])
    rig.engine.send("order.new", request)  # the engine's resend after the restart
    rig.settle(1.5)
    tagged = [o for o in rig.fake.orders(CLIENTS[B_MAIN]) if o["ordertag"] == order_tag(request["order_id"])]
    assert len(tagged) == 1
    rig.fake.post("fill", orderid=orderid, quantity=1, price=1300.5)
    fills = rig.engine.wait_for("report", lambda p: p["order_id"] == request["order_id"] and p["type"] == "fill"
                                and p["fill_price"] == 1300.5, timeout=10)
    assert len(fills) == 1


def test_a_validation_refusal_is_final_at_once_in_angels_words(rig: AngelRig) -> None:
    # Failed before: AB1004 (Angel's catch-all, also its validation answer) was retried six
    # times as transient, then left unresolved for 120 s and rejected as "could not be reached".
    import time
    started = time.monotonic()
    request = rig.order(exchange="NFO", symbol="NIFTY26DECFUT", product="NRML", quantity=10, order_type="LIMIT",
                        price=24000.0)
    reason = rig.report(request["order_id"], "rejected", timeout=5)["reason"]
    assert "lot size" in reason and "(AB1004)" in reason
    assert time.monotonic() - started < 3
    placements = [r for r in rig.fake.state()["requests"] if r["path"].endswith("placeOrder") and r.get("errorcode") == "AB1004"]
    assert len(placements) == 1, placements


def test_a_placement_whose_answer_was_cut_off_is_found_by_its_tag_and_placed_once(rig: AngelRig) -> None:
    # An unreadable answer to placeOrder (a proxy's 502 page after Angel took it) is an unknown
    # outcome: looked for by its tag (after a wait, so a request still in flight is not sent
    # again), never a rejection. (Before, an answer cut off mid-body was reported rejected.)
    rig.fake.post("fail", method="POST", path="/rest/secure/angelbroking/order/v1/placeOrder", status=502,
                  errorcode="", message="", raw="<html>502 Bad Gateway</html>", after=True)
    request = rig.order(order_type="LIMIT", price=1350.0, quantity=4)
    accepted = rig.report(request["order_id"], "accepted", timeout=15)
    tagged = [o for o in rig.fake.orders(CLIENTS[B_MAIN]) if o["ordertag"] == order_tag(request["order_id"])]
    assert len(tagged) == 1 and tagged[0]["orderid"] == accepted["broker_order_id"]


def test_the_order_update_socket_logs_no_pong_as_a_bad_update(rig: AngelRig) -> None:
    rig.settle(11)  # past one of the socket's 10 s pings
    assert "not JSON" not in rig.log_text()


def test_a_scrip_master_that_cannot_be_read_at_start_is_tried_again_in_the_process(rig: AngelRig, tmp_path: Path) -> None:
    # Failed before: exit 69 at once, which under systemd's start limit (5 in 300 s) left the
    # unit failed for good after a minute of Angel's file server being away.
    import json as json_module
    import os
    import subprocess
    import sys
    import time
    import urllib.request
    from fake_engine import FakeEngine
    engine = FakeEngine(rig.welcome_for)
    scrips = tmp_path / "scrips.json"
    config = tmp_path / "late.toml"
    config.write_text(rig.config.read_text().replace(f'scrip_master = "{rig.fake.scrip_master_url}"',
                                                     f'scrip_master = "{scrips}"')
                      .replace(f'endpoint = "{rig.engine.endpoint}"', f'endpoint = "{engine.endpoint}"'))
    log = tmp_path / "late.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    process = subprocess.Popen([sys.executable, "-m", "algotrader_brokers", "gateway", "--config", str(config)],
                               env=env, stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    try:
        deadline = time.monotonic() + 15
        while "trying again" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "trying again in 5 s" in log.read_text() and process.poll() is None
        with urllib.request.urlopen(rig.fake.scrip_master_url, timeout=10) as answer:
            scrips.write_text(json_module.dumps(json_module.load(answer)))
        engine.wait_for("hello", timeout=20)
    finally:
        process.terminate()
        process.wait(10)
        engine.close()
    assert process.returncode == 0


def test_a_burst_of_fills_is_reported_with_fewer_trade_book_reads_than_fills(rig: AngelRig) -> None:
    # Failed before: one getTradeBook (Angel allows one a second) per fill update, so six fills
    # cost six seconds of the broker's thread, ahead of any cancel.
    requests = [rig.order(order_type="LIMIT", price=1320.0 + n, quantity=1) for n in range(6)]
    orderids = [rig.report(r["order_id"], "accepted")["broker_order_id"] for r in requests]
    rig.settle(1.5)
    before = len([r for r in rig.fake.state()["requests"] if r["path"].endswith("getTradeBook")])
    for orderid in orderids:
        rig.fake.post("fill", orderid=orderid)
    for request in requests:
        rig.report(request["order_id"], "fill", timeout=15)
    reads = len([r for r in rig.fake.state()["requests"] if r["path"].endswith("getTradeBook")]) - before
    assert reads <= 4, f"{reads} trade-book reads for 6 fills"
