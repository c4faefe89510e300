"""The state and rules of the fake ICICI Direct Breeze (fake_icici.py serves them): accounts and
their logins, sessions, signed requests, orders, fills, funds, quotes and the security master.

Where the facts come from. From the official SDK breeze-connect 1.0.69 (its source and README):
the endpoint names (customerdetails, order, trades, portfoliopositions, funds, quotes), that every
call is a JSON body (GETs too), the headers X-Checksum ``"token " + sha256(X-Timestamp + body +
secret)``, X-Timestamp ``YYYY-MM-DDTHH:MM:SS.000Z`` (UTC), X-AppKey, X-SessionToken (base64 of
``user_id:session_key``), the envelope ``{"Success", "Status", "Error"}``, the answers' field
names and spellings (order detail, trade list, trade detail, positions, funds, quotes), the
customer-details errors "Invalid session.", "Resource not available." and "Public Key does not
exist.", the products (cash, futures, options, mtf, btst), order types (limit, stoploss; market
is turned into a limit by the SDK), validities (day, ioc, vtc), and the security master's files
and columns. From ICICI's published limits: 100 calls a minute per app key.

The fake's own choices (no published source): the Status and Error of an expired session on
other calls (401, "Session key is expired."), of a bad checksum (401, "Checksum is invalid."), of
the rate limit (429, "Limit exceed: 100 calls per minute"), of validation failures (500 with a
plain sentence); order ids ``<yyyymmdd>N3<8 digits>`` (cash) and ``<yyyymmdd>14<8 digits>``
(F&O) as in the README's samples; statuses "Requested" before the exchange confirms (never
lingering), "Ordered", "Executed", "Cancelled", "Rejected", "Expired"; a partly filled order
stays "Ordered" with its pending_quantity lower (the README shows no partial status); user_remark
echoed in the order detail, at most 20 characters; no tick size, margin or market-hours checks.
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

IST = timezone(timedelta(hours=5, minutes=30))
PRODUCTS = ("futures", "options", "cash", "mtf", "btst")
ORDER_TYPES = ("limit", "stoploss")
VALIDITIES = ("day", "ioc", "vtc")
RATE_PER_MINUTE = 100


class BreezeError(Exception):
    """An answer ``{"Success": None, "Status": status, "Error": message}``."""

    def __init__(self, status: int, message: str, http: int = 200) -> None:
        super().__init__(message)
        self.status, self.message, self.http = status, message, http


@dataclass
class Account:
    api_key: str
    api_secret: str
    user_id: str
    api_session: str
    session_key: str = ""
    expired: bool = False
    cash: float = 1_000_000.0
    reject_next: int = 0


@dataclass
class Order:
    order_id: str
    user_id: str
    exchange: str
    stock_code: str
    product: str
    action: str
    order_type: str
    quantity: int
    price: float
    stoploss: float
    validity: str
    user_remark: str
    expiry_date: str | None
    right: str | None
    strike_price: float
    status: str = "Ordered"
    filled: int = 0
    cancelled: int = 0
    value: float = 0.0
    modifications: int = 0
    placed: str = ""


@dataclass
class Trade:
    order: Order
    trade_id: str
    exchange_trade_id: str
    quantity: int
    price: float
    when: datetime


def checksum(timestamp: str, body: str, secret: str) -> str:
    return "token " + hashlib.sha256((timestamp + body + secret).encode("utf-8")).hexdigest()


def _title(text: str) -> str:
    return text[:1].upper() + text[1:]


class FakeIcici:
    def __init__(self, on_order: Callable[[Order], None]) -> None:
        self.lock = threading.Lock()
        self.accounts: dict[str, Account] = {}       # api_key ->
        self.orders: dict[str, Order] = {}
        self.trades: list[Trade] = []
        self.quotes: dict[tuple[str, str], float] = {}  # (exchange, stock_code) -> ltp
        self.on_order = on_order
        self.rate_limits = True
        self.calls: dict[str, list[float]] = {}
        self._ids = itertools.count(1)
        self._trade_ids = itertools.count(1)

    # -- accounts and sessions -----------------------------------------------------------------
    def add_account(self, api_key: str, api_secret: str, user_id: str, api_session: str) -> None:
        self.accounts[api_key] = Account(api_key, api_secret, user_id, api_session)

    def customer_details(self, body: dict[str, Any]) -> dict[str, Any]:
        account = self.accounts.get(str(body.get("AppKey") or ""))
        if account is None:
            raise BreezeError(500, "Public Key does not exist.")
        if str(body.get("SessionToken") or "") != account.api_session:
            raise BreezeError(500, "Invalid session.")
        if account.expired:
            raise BreezeError(500, "Resource not available.")
        if not account.session_key:
            account.session_key = secrets.token_hex(8)
        token = base64.b64encode(f"{account.user_id}:{account.session_key}".encode("ascii")).decode("ascii")
        return {"exg_trade_date": {"NSE": self.trade_date(), "BSE": self.trade_date(), "FNO": self.trade_date()},
                "exg_status": {"NSE": "O", "BSE": "O", "FNO": "Y"},
                "segments_allowed": {"Trading": "Y", "Equity": "Y", "Derivatives": "Y", "Currency": "N"},
                "idirect_userid": account.user_id, "session_token": token, "idirect_user_name": "TEST USER",
                "idirect_ORD_TYP": "N", "idirect_lastlogin_time": datetime.now(IST).strftime("%d-%b-%Y %H:%M:%S"),
                "mf_holding_mode_popup_flg": "N", "commodity_exchange_status": "N",
                "commodity_trade_date": self.trade_date(), "commodity_allowed": "O"}

    def session(self, api_key: str, user_id: str, session_key: str) -> None:
        """A live session (what a morning login made), for tests that skip the login."""
        account = self.accounts.get(api_key)
        if account is None:
            account = self.accounts[api_key] = Account(api_key, "", user_id, secrets.token_hex(4))
        account.user_id, account.session_key, account.expired = user_id, session_key, False

    def expire(self, api_key: str | None) -> list[str]:
        """Ends sessions (all without ``api_key``); their session keys."""
        ended = []
        for account in self.accounts.values():
            if api_key is None or account.api_key == api_key:
                account.expired = True
                ended.append(account.session_key)
        return ended

    def live(self, user: str, token: str) -> bool:
        return any(a.user_id == user and a.session_key == token and not a.expired for a in self.accounts.values())

    def authenticate(self, headers: dict[str, str], body: str) -> Account:
        """The account a signed call is for, or the refusal."""
        account = self.accounts.get(headers.get("x-appkey", ""))
        if account is None:
            raise BreezeError(401, "Public Key does not exist.")
        stamp = headers.get("x-timestamp", "")
        try:
            moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=timezone.utc)
        except ValueError:
            raise BreezeError(401, "Timestamp is invalid.") from None
        if abs((datetime.now(timezone.utc) - moment).total_seconds()) > 300:
            raise BreezeError(401, "Timestamp is invalid.")
        if headers.get("x-checksum", "") != checksum(stamp, body, account.api_secret):
            raise BreezeError(401, "Checksum is invalid.")
        try:
            user, _, key = base64.b64decode(headers.get("x-sessiontoken", "")).decode("ascii").partition(":")
        except (ValueError, UnicodeError):
            raise BreezeError(401, "Session key is invalid.") from None
        if user != account.user_id or key != account.session_key or not key:
            raise BreezeError(401, "Session key is invalid.")
        if account.expired:
            raise BreezeError(401, "Session key is expired.")
        if self.rate_limits:
            now = time.monotonic()
            window = [t for t in self.calls.get(account.api_key, []) if now - t < 60]
            if len(window) >= RATE_PER_MINUTE:
                raise BreezeError(429, f"Limit exceed: {RATE_PER_MINUTE} calls per minute", http=429)
            window.append(now)
            self.calls[account.api_key] = window
        return account

    @staticmethod
    def trade_date() -> str:
        return datetime.now(IST).strftime("%d-%b-%Y")

    # -- orders --------------------------------------------------------------------------------
    def place(self, account: Account, body: dict[str, Any], securities: Any) -> dict[str, Any]:
        exchange = str(body.get("exchange_code") or "").upper()
        product = str(body.get("product") or "").lower()
        action = str(body.get("action") or "").lower()
        order_type = str(body.get("order_type") or "").lower()
        validity = str(body.get("validity") or "").lower()
        if exchange not in ("NSE", "BSE", "NFO", "BFO"):
            raise BreezeError(500, "Exchange code should be NSE, BSE, NFO or BFO")
        if product not in PRODUCTS:
            raise BreezeError(500, "Product type should be either 'futures', 'options', 'cash', 'mtf' or 'btst'")
        if exchange in ("NSE", "BSE") and product not in ("cash", "mtf", "btst"):
            raise BreezeError(500, f"Product {product} is not allowed on {exchange}")
        if exchange in ("NFO", "BFO") and product not in ("futures", "options"):
            raise BreezeError(500, f"Product {product} is not allowed on {exchange}")
        if action not in ("buy", "sell"):
            raise BreezeError(500, "Action should be either 'buy' or 'sell'")
        if order_type == "market":
            raise BreezeError(500, "Market orders are not allowed through the API: place a limit order")
        if order_type not in ORDER_TYPES:
            raise BreezeError(500, "Order type should be either 'limit' or 'stoploss'")
        if validity not in VALIDITIES:
            raise BreezeError(500, "Validity should be either 'day', 'ioc', or 'vtc'")
        try:
            quantity = int(str(body.get("quantity")))
            price = float(str(body.get("price") or 0))
            stoploss = float(str(body.get("stoploss") or 0))
            strike = float(str(body.get("strike_price") or 0))
        except ValueError:
            raise BreezeError(500, "Quantity, price, stoploss and strike price must be numbers") from None
        if quantity <= 0:
            raise BreezeError(500, "Quantity should be greater than 0")
        if price <= 0:
            raise BreezeError(500, "Price should be greater than 0 for a limit order")
        if order_type == "stoploss" and stoploss <= 0:
            raise BreezeError(500, "Stoploss trigger price should be greater than 0")
        remark = str(body.get("user_remark") or "")
        if len(remark) > 20:
            raise BreezeError(500, "User remark should be at most 20 characters")
        stock = str(body.get("stock_code") or "")
        expiry = str(body.get("expiry_date") or "")[:10] or None
        right = str(body.get("right") or "others").lower() if product in ("futures", "options") else None
        security = securities.find_code(exchange, stock, expiry, strike if product == "options" else 0.0,
                                        right or "others")
        if security is None:
            raise BreezeError(500, f"Stock code {stock} not found on {exchange}")
        if quantity % int(security.get("lot", 1) or 1):
            raise BreezeError(500, f"Quantity should be a multiple of the lot size {security.get('lot')}")
        today = datetime.now(IST)
        serial = next(self._ids)
        order_id = f"{today:%Y%m%d}N3{serial:08d}" if exchange in ("NSE", "BSE") else f"{today:%Y%m%d}14{serial:08d}"
        order = Order(order_id=order_id, user_id=account.user_id, exchange=exchange, stock_code=stock, product=product,
                      action=action, order_type=order_type, quantity=quantity, price=price, stoploss=stoploss,
                      validity=validity, user_remark=remark, expiry_date=expiry, right=right,
                      strike_price=strike if product == "options" else 0.0, placed=today.strftime("%d-%b-%Y %H:%M"))
        self.orders[order_id] = order
        if account.reject_next > 0:  # ICICI's RMS rejects it after taking it
            account.reject_next -= 1
            order.status = "Rejected"
            order.cancelled = quantity
        self.on_order(order)
        return {"order_id": order_id, "message": "Successfully Placed the order", "user_remark": remark}

    def order_of(self, account: Account, body: dict[str, Any]) -> Order:
        order = self.orders.get(str(body.get("order_id") or ""))
        if order is None or order.user_id != account.user_id:
            raise BreezeError(500, "No Data Found")
        if str(body.get("exchange_code") or "").upper() != order.exchange:
            raise BreezeError(500, "No Data Found")
        return order

    def modify(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        order = self.order_of(account, body)
        if order.status != "Ordered":
            raise BreezeError(500, "Order has already been executed and cannot be modified.")
        if body.get("quantity") not in (None, ""):
            quantity = int(str(body["quantity"]))
            if quantity <= order.filled:
                raise BreezeError(500, "Quantity should be greater than the executed quantity")
            order.quantity = quantity
        if body.get("price") not in (None, ""):
            order.price = float(str(body["price"]))
        if body.get("stoploss") not in (None, ""):
            order.stoploss = float(str(body["stoploss"]))
        if str(body.get("order_type") or order.order_type).lower() not in ORDER_TYPES:
            raise BreezeError(500, "Order type should be either 'limit' or 'stoploss'")
        order.modifications += 1
        self.on_order(order)
        return {"order_id": order.order_id, "message": "Successfully Modified the order"}

    def cancel(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        order = self.order_of(account, body)
        if order.status != "Ordered":
            raise BreezeError(500, "Order has already been executed or cancelled and cannot be cancelled.")
        order.status, order.cancelled = "Cancelled", order.quantity - order.filled
        self.on_order(order)
        return {"order_id": order.order_id, "message": "Your Order Canceled successfully."}

    def fill(self, order_id: str, quantity: int | None, price: float | None) -> Trade:
        order = self.orders[order_id]
        if order.status != "Ordered":
            raise BreezeError(500, f"order {order_id} is {order.status}")
        size = order.quantity - order.filled if quantity is None else quantity
        if size <= 0 or size > order.quantity - order.filled:
            raise BreezeError(500, f"cannot fill {size} of {order.quantity - order.filled}")
        at = order.price if price is None else price
        now = datetime.now(IST)
        serial = next(self._trade_ids)
        trade = Trade(order, f"{now:%Y}/{now:%m%d}/{serial:08d}", f"{serial:09d}", size, at, now)
        self.trades.append(trade)
        order.filled += size
        order.value += size * at
        if order.filled == order.quantity:
            order.status = "Executed"
        self.on_order(order)
        return trade

    def end(self, order_id: str, status: str) -> None:
        """The exchange cancels (an IOC's rest), rejects or expires an open order."""
        order = self.orders[order_id]
        order.status = status
        order.cancelled = order.quantity - order.filled
        self.on_order(order)

    # -- books ---------------------------------------------------------------------------------
    def detail(self, order: Order) -> dict[str, Any]:
        average = order.value / order.filled if order.filled else 0
        pending = order.quantity - order.filled - order.cancelled if order.status == "Ordered" else 0
        return {"order_id": order.order_id, "exchange_order_id": None, "exchange_code": order.exchange,
                "stock_code": order.stock_code, "product_type": _title(order.product), "action": _title(order.action),
                "order_type": "StopLoss" if order.order_type == "stoploss" else "Limit",
                "stoploss": f"{order.stoploss:.2f}", "quantity": str(order.quantity), "price": f"{order.price:.2f}",
                "validity": {"day": "Day", "ioc": "IoC", "vtc": "VTC"}[order.validity], "disclosed_quantity": "0",
                "expiry_date": datetime.strptime(order.expiry_date, "%Y-%m-%d").strftime("%d-%b-%Y") if order.expiry_date else None,
                "right": _title(order.right) if order.right and order.right != "others" else ("Others" if order.right else None),
                "strike_price": order.strike_price, "average_price": f"{average:g}",
                "cancelled_quantity": str(order.cancelled), "pending_quantity": str(pending), "status": order.status,
                "user_remark": order.user_remark, "order_datetime": order.placed, "parent_order_id": None,
                "modification_number": str(order.modifications) if order.modifications else None,
                "exchange_acknowledgement_date": None, "SLTP_price": None, "exchange_acknowledge_number": None,
                "initial_limit": None, "intial_sltp": None, "LTP": None, "limit_offset": None, "mbc_flag": None,
                "cutoff_price": None, "validity_date": None}

    def order_list(self, account: Account, body: dict[str, Any]) -> list[dict[str, Any]]:
        exchange = str(body.get("exchange_code") or "").upper()
        if not exchange:
            raise BreezeError(500, "Exchange-Code cannot be empty")
        if "order_id" in body:
            return [self.detail(self.order_of(account, body))]
        return [self.detail(o) for o in self.orders.values() if o.user_id == account.user_id and o.exchange == exchange]

    def trade_list(self, account: Account, body: dict[str, Any]) -> list[dict[str, Any]]:
        exchange = str(body.get("exchange_code") or "").upper()
        if "order_id" in body:
            order = self.order_of(account, body)
            return [{"settlement_id": "2026123", "exchange_trade_id": t.exchange_trade_id,
                     "executed_quantity": str(t.quantity), "action": order.action[:1].upper(),
                     "total_transaction_cost": "0", "brokerage_amount": "0", "taxes": "0", "eatm_withheld_amount": "0",
                     "cash_withheld_amount": "0", "execution_price": f"{t.price:g}", "stock_code": order.stock_code,
                     "exchange_code": order.exchange, "trade_id": t.trade_id,
                     "exchange_trade_time": t.when.strftime("%d-%b-%Y %H:%M:%S")} for t in self.trades if t.order is order]
        rows: list[dict[str, Any]] = []
        for order in self.orders.values():
            fills = [t for t in self.trades if t.order is order]
            if order.user_id != account.user_id or order.exchange != exchange or not fills:
                continue
            quantity = sum(t.quantity for t in fills)
            rows.append({"book_type": "Trade-Book", "trade_date": self.trade_date(), "stock_code": order.stock_code,
                         "action": _title(order.action), "quantity": str(quantity),
                         "average_cost": f"{sum(t.quantity * t.price for t in fills) / quantity:.2f}",
                         "brokerage_amount": "0.00", "product_type": _title(order.product), "exchange_code": order.exchange,
                         "order_id": order.order_id, "segment": "N", "settlement_code": "2026123", "dp_id": "IN000000",
                         "client_id": account.user_id, "ltp": "0", "eatm_withheld_amount": "0.00",
                         "cash_withheld_amount": "0.00", "total_taxes": "0.00", "order_type": "Limit",
                         "expiry_date": order.expiry_date, "right": order.right, "strike_price": order.strike_price or None})
        return rows

    def positions(self, account: Account) -> list[dict[str, Any]]:
        net: dict[tuple[str, str, str, str | None, str | None, float], int] = {}
        for trade in self.trades:
            order = trade.order
            if order.user_id != account.user_id:
                continue
            key = (order.exchange, order.stock_code, order.product, order.expiry_date, order.right, order.strike_price)
            net[key] = net.get(key, 0) + (trade.quantity if order.action == "buy" else -trade.quantity)
        return [{"segment": "fno" if product in ("futures", "options") else "equity", "product_type": _title(product),
                 "exchange_code": exchange, "stock_code": stock,
                 "expiry_date": datetime.strptime(expiry, "%Y-%m-%d").strftime("%d-%b-%Y") if expiry else None,
                 "strike_price": f"{strike:g}", "right": _title(right) if right else None,
                 "action": "Buy" if quantity > 0 else "Sell" if quantity < 0 else "NA", "quantity": str(abs(quantity)),
                 "average_price": "0", "settlement_id": None, "margin_amount": None, "ltp": "0", "price": "0",
                 "stock_index_indicator": "Stock", "cover_quantity": "0", "order_id": "", "underlying": stock}
                for (exchange, stock, product, expiry, right, strike), quantity in net.items()]

    def funds(self, account: Account) -> dict[str, Any]:
        return {"bank_account": "000000000000", "total_bank_balance": account.cash, "allocated_equity": account.cash / 2,
                "allocated_fno": account.cash / 2, "allocated_commodity": 0.0, "allocated_currency": 0.0,
                "block_by_trade_equity": 0.0, "block_by_trade_fno": 0.0, "block_by_trade_commodity": 0.0,
                "block_by_trade_currency": 0.0, "block_by_trade_balance": 0, "unallocated_balance": "0"}

    def quote(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        exchange = str(body.get("exchange_code") or "").upper()
        stock = str(body.get("stock_code") or "")
        ltp = self.quotes.get((exchange, stock))
        if ltp is None:
            raise BreezeError(500, "No Data Found")
        row = {"exchange_code": exchange, "product_type": _title(str(body.get("product_type") or "cash")),
               "stock_code": stock, "expiry_date": None, "right": "*", "strike_price": 0.0, "ltp": ltp,
               "ltt": datetime.now(IST).strftime("%d-%b-%Y %H:%M:%S"), "best_bid_price": ltp, "best_bid_quantity": "1",
               "best_offer_price": ltp, "best_offer_quantity": "1", "open": ltp, "high": ltp, "low": ltp,
               "previous_close": ltp, "ltp_percent_change": 0.0, "upper_circuit": round(ltp * 1.2, 2),
               "lower_circuit": round(ltp * 0.8, 2), "total_quantity_traded": "0", "spot_price": str(ltp)}
        # For BSE the SDK reads the second row (the first is NSE's, as ICICI answers both).
        return [dict(row, exchange_code="NSE"), row] if exchange == "BSE" else [row]
