"""Breeze's order detail and trade detail rows as the shared order model (broker_orders.py).

An order detail row (``get_order_detail``, ``get_order_list``) has ``quantity``,
``pending_quantity`` and ``cancelled_quantity`` but no filled quantity: it is what is neither
pending nor cancelled. Its ``status``: "Requested" / "Queued" (not yet at the exchange),
"Ordered" and "Partially Executed" (working), "Executed", "Cancelled", "Expired", "Rejected".
Its ``user_remark`` is the tag. A trade detail row (``get_trade_detail``) is one fill:
``trade_id``, ``executed_quantity``, ``execution_price``, ``exchange_trade_time`` (IST).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from ..adapter import JSON
from ..broker_orders import CANCELLED, COMPLETE, REJECTED, UNCONFIRMED, WORKING, BrokerOrder, BrokerTrade, price
from .securities import SecurityMaster

IST = timezone(timedelta(hours=5, minutes=30))
ENGINE_ORDER_TYPES = {"limit": "LIMIT", "stoploss": "SL", "market": "MARKET"}
UNCONFIRMED_STATUSES = ("requested", "queued", "")


def _int(value: Any) -> int:
    try:
        return int(float(str(value or "0")))
    except ValueError:
        return 0


def _date(value: Any) -> date | None:
    """``27-Feb-2025`` (answers) or ``2025-02-27...`` (what the calls take), with any time after."""
    text = str(value or "").strip()
    for layout, width in (("%d-%b-%Y", 11), ("%Y-%m-%d", 10)):
        try:
            return datetime.strptime(text[:width], layout).date()
        except ValueError:
            continue
    return None


def rfc3339(value: Any) -> str | None:
    """ICICI's ``05-Feb-2025 10:41:24`` (IST) in UTC, RFC 3339."""
    try:
        moment = datetime.strptime(str(value or "").strip(), "%d-%b-%Y %H:%M:%S").replace(tzinfo=IST)
    except ValueError:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def engine_symbol(securities: SecurityMaster, row: JSON) -> str:
    exchange = str(row.get("exchange_code") or "")
    code = str(row.get("stock_code") or "")
    right = str(row.get("right") or "others").lower()
    strike = price(row.get("strike_price")) if right in ("call", "put") else None
    security = securities.by_code(exchange, code, _date(row.get("expiry_date")), strike,
                                  right if right in ("call", "put") else "others")
    return security.engine_symbol if security is not None else code


def order_from_detail(row: JSON, securities: SecurityMaster) -> BrokerOrder:
    status = str(row.get("status") or "").strip().lower()
    quantity = _int(row.get("quantity"))
    cancelled = _int(row.get("cancelled_quantity"))
    pending = _int(row.get("pending_quantity"))
    if status == "executed":
        state, filled = COMPLETE, quantity - cancelled
    elif status in ("cancelled", "expired"):
        state, filled = CANCELLED, quantity - cancelled
    elif status == "rejected":
        state, filled = REJECTED, 0
    elif status in UNCONFIRMED_STATUSES:
        state, filled = UNCONFIRMED, 0
    else:
        state, filled = WORKING, quantity - pending - cancelled
    order_type = ENGINE_ORDER_TYPES.get(str(row.get("order_type") or "").lower(), str(row.get("order_type") or ""))
    reason = None
    if state == REJECTED:
        reason = "rejected by ICICI Direct (Breeze's order detail gives no reason; ICICI's order book on the web shows it)"
    elif status == "expired":
        reason = "expired at ICICI Direct"
    return BrokerOrder(broker_order_id=str(row.get("order_id") or ""), tag=str(row.get("user_remark") or ""), state=state,
                       symbol=engine_symbol(securities, row), exchange=str(row.get("exchange_code") or ""),
                       side=str(row.get("action") or "").upper(), order_type=order_type, quantity=quantity,
                       filled=max(0, filled), price=price(row.get("price")) if order_type in ("LIMIT", "SL") else None,
                       trigger_price=price(row.get("stoploss")) if order_type == "SL" else None, reason=reason)


def trade_from_detail(row: JSON, order_id: str, securities: SecurityMaster, side: str) -> BrokerTrade:
    # A fill without a trade_id (not seen; Breeze documents one) gets an id from what identifies
    # it, so two fills of one order never share an exec_id.
    trade_id = str(row.get("trade_id") or row.get("exchange_trade_id") or "") or \
        f"{row.get('exchange_trade_time')}-{row.get('executed_quantity')}-{row.get('execution_price')}"
    action = str(row.get("action") or "").upper()
    return BrokerTrade(broker_order_id=order_id, trade_id=trade_id, symbol=engine_symbol(securities, row),
                       exchange=str(row.get("exchange_code") or ""),
                       side=side or {"B": "BUY", "S": "SELL"}.get(action, action),
                       quantity=_int(row.get("executed_quantity")), price=price(row.get("execution_price")),
                       ts=rfc3339(row.get("exchange_trade_time")))
