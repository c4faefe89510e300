"""The state of the fake Angel One SmartAPI (fake_angel.py serves it over HTTP and the order-update
WebSocket): accounts and sessions (MPIN + TOTP login), each client's orders, trades, positions and
funds, SmartAPI's order validation, its published rate limits, the scrip master, and an exchange
simulator the tests drive (fill, reject, cancel, trigger). Plain Python, no I/O: every change of an
order is handed to ``on_order(client_code, message)`` as the order-update WebSocket's message.

Errors are raised as ``AngelError(http_status, errorcode, message, kind)``; the HTTP layer writes
them in SmartAPI's documented shape ``{"status": false, "message", "errorcode", "data": null}``
(token errors optionally in the gateway's ``{"success": false, "errorCode", ...}`` shape; the rate
limit as Angel's plain-text 403). Which facts come from Angel's documentation and which are this
fake's own choices is listed in fake_angel.py's docstring; the short version for this module:

- From the docs (smartapi.angelbroking.com/docs, mirrored section by section as Markdown):
  the constants (varieties NORMAL/STOPLOSS/ROBO, order types, product types, durations,
  exchanges), the error codes and their texts (AG8001..AB4008 from the "Exceptions" table), the
  rate limits (Rate Limit section), the field names and value spellings of the order book, trade
  book, positions, RMS and profile answers, "IOC orders are not allowed for commodities", the
  order-update codes AB00..AB11, and that an empty book is ``data: null``.
- From Angel's forum (where the docs are silent): AB1050 "Invalid totp" for a wrong TOTP, AG8004
  "Invalid API Key", ``status`` "modified" while ``orderstatus`` keeps the working state after a
  modification, and the plain-text "Access denied because of exceeding access rate" answer.
- This fake's own: every message text not quoted above, AB1004 for validation failures Angel
  documents no code for, the HTTP statuses of REST token errors (borrowed from the order-update
  socket's 401 invalid / 403 expired), AMO refused, no market-price protection, no tick-size or
  margin checks, and the scrip master's made-up tokens for derivatives.
"""
from __future__ import annotations

import binascii
import itertools
import time
import uuid
from datetime import datetime
from typing import Any, Callable

from fake_angel_model import (
    Account,
    AngelError,
    Credentials,
    DURATIONS,
    EQUITY_EXCHANGES,
    EXCHANGES,
    INVALID_API_KEY,
    INVALID_REFRESH,
    INVALID_TOKEN,
    IST,
    LOT_EXCHANGES,
    ORDER_STATUS_CODES,
    ORDER_TYPES,
    PRICED_TYPES,
    PRODUCTS,
    REFRESH_EXPIRED,
    RateLimiter,
    STOPLOSS_TYPES,
    ScripMaster,
    Session,
    TOKEN_EXPIRED,
    TOKEN_MISSING,
    VARIETIES,
    WORKING,
    WS_KEYS,
    _fake_jwt,
    _invalid,
    _number,
    _quantity,
    _text,
    angel_time,
    default_scrips,
    empty_ws_order,
    instrument_details,
    render_order,
    text_number,
    totp,
    ws_message)


class FakeAngel:
    """All of the fake's state. ``on_order(client_code, message)`` is called on every order change
    with the order-update socket's message for it."""

    def __init__(self, on_order: Callable[[str, dict[str, Any]], None]) -> None:
        self.on_order = on_order
        self.credentials: dict[str, Credentials] = {}    # client code -> login credentials
        self.sessions: dict[str, Session] = {}           # jwt -> live session
        self.expired: dict[str, Session] = {}            # jwt -> expired session (AG8002)
        self.refresh: dict[str, Session] = {}            # refresh token -> session it renews
        self.expired_refresh: set[str] = set()           # AB8051
        self.accounts: dict[str, Account] = {}
        self.scrips = ScripMaster(default_scrips())
        self.limiter = RateLimiter()
        self.token_error_shape = "docs"                  # or "gateway"
        self._order_ids = itertools.count(1)
        self._exchange_ids = itertools.count(48358)
        self._fill_ids = itertools.count(50005750)
        self.day = datetime.now(IST).strftime("%y%m%d")

    # -- accounts and sessions --------------------------------------------------------------
    def account(self, client_code: str) -> Account:
        return self.accounts.setdefault(client_code, Account(client_code))

    def add_account(self, api_key: str, client_code: str, mpin: str, totp_secret: str) -> None:
        try:
            totp(totp_secret)
        except (binascii.Error, ValueError):
            raise AngelError(400, "FAKE", f"totp_secret is not base32: {totp_secret!r}") from None
        self.credentials[client_code] = Credentials(api_key, mpin, totp_secret)
        self.account(client_code)

    def add_session(self, api_key: str, client_code: str, jwt: str, feed_token: str = "",
                    refresh_token: str = "") -> Session:
        session = Session(api_key, client_code, jwt, refresh_token or _fake_jwt(), feed_token or _fake_jwt())
        self.sessions[jwt] = session
        self.expired.pop(jwt, None)
        self.refresh[session.refresh_token] = session
        self.expired_refresh.discard(session.refresh_token)
        self.account(client_code)
        return session

    def _token_error(self, status: int, error: tuple[str, str]) -> AngelError:
        return AngelError(status, error[0], error[1], kind="token")

    def login(self, api_key: str | None, params: dict[str, Any]) -> dict[str, Any]:
        """loginByPassword: client code, MPIN (as ``password``) and a TOTP of the previous,
        current or next 30 s step; a new session with new tokens each time."""
        client_code = _text(params, "clientcode")
        credentials = self.credentials.get(client_code)
        if credentials is not None and api_key != credentials.api_key:
            raise AngelError(200, *INVALID_API_KEY)
        if credentials is None or _text(params, "password") != credentials.mpin:
            # The docs' own sample of a failed request.
            raise AngelError(200, "AB1007", "Login Id or password is invalid")
        code = _text(params, "totp")
        if code not in {totp(credentials.totp_secret, step_offset=o) for o in (-1, 0, 1)}:
            raise AngelError(200, "AB1050", "Invalid totp")
        session = self.add_session(credentials.api_key, client_code, _fake_jwt())
        data: dict[str, Any] = {"jwtToken": session.jwt, "refreshToken": session.refresh_token,
                                "feedToken": session.feed_token}
        if params.get("state") is not None:
            data["state"] = params["state"]  # echoed, as the docs say
        return data

    def generate_tokens(self, api_key: str | None, params: dict[str, Any]) -> dict[str, Any]:
        """generateTokens: a refresh token of a session buys a new jwt and feed token (a new live
        session; the old jwt keeps its own state). The refresh token itself stays the same."""
        refresh_token = _text(params, "refreshToken")
        if refresh_token in self.expired_refresh:
            raise AngelError(200, *REFRESH_EXPIRED)
        old = self.refresh.get(refresh_token)
        if old is None:
            raise AngelError(200, *INVALID_REFRESH)
        if api_key != old.api_key:
            raise AngelError(200, *INVALID_API_KEY)
        session = self.add_session(old.api_key, old.client_code, _fake_jwt(), refresh_token=refresh_token)
        return {"jwtToken": session.jwt, "refreshToken": session.refresh_token, "feedToken": session.feed_token}

    def client_for_refresh(self, params: dict[str, Any]) -> str:
        session = self.refresh.get(_text(params, "refreshToken"))
        return session.client_code if session else "?"

    def session_for(self, api_key: str | None, authorization: str | None) -> Session:
        """The session of ``Authorization: Bearer <jwt>``: AG8003 without one, AG8001 for a jwt the
        fake never issued (or logged out), AG8002 for an expired one, AG8004 for another api key."""
        if not authorization:
            raise self._token_error(401, TOKEN_MISSING)
        if not authorization.startswith("Bearer "):
            raise self._token_error(401, INVALID_TOKEN)
        jwt = authorization[len("Bearer "):].strip()
        if jwt in self.expired:
            raise self._token_error(403, TOKEN_EXPIRED)
        session = self.sessions.get(jwt)
        if session is None:
            raise self._token_error(401, INVALID_TOKEN)
        if api_key != session.api_key:
            raise AngelError(401, *INVALID_API_KEY)  # the forum's samples: the documented envelope
        return session

    def ws_session(self, authorization: str) -> tuple[Session | None, int]:
        """For the order-update handshake: the session, or the documented refusal (401 invalid,
        403 expired). The SDK sends the header as given, with or without "Bearer "."""
        jwt = authorization[len("Bearer "):] if authorization.startswith("Bearer ") else authorization
        jwt = jwt.strip()
        if jwt in self.expired:
            return None, 403
        session = self.sessions.get(jwt)
        return (session, 200) if session else (None, 401)

    def logout(self, session: Session) -> list[str]:
        """Ends the session altogether (its jwt is then unknown: AG8001; its refresh token
        AB8050); returns the jwts whose order-update connections must close."""
        self.sessions.pop(session.jwt, None)
        if self.refresh.get(session.refresh_token) is session:
            del self.refresh[session.refresh_token]
        return [session.jwt]

    def expire(self, jwt: str | None, refresh: bool = False) -> list[str]:
        """Expires one session (all without one): its jwt answers AG8002 from then on; with
        ``refresh`` its refresh token AB8051 too (else generateTokens still renews it, as a
        refresh token outlives its jwt). Returns the expired jwts."""
        jwts = [jwt] if jwt else list(self.sessions)
        ended = []
        for token in jwts:
            session = self.sessions.pop(token, None)
            if session is None:
                continue
            self.expired[token] = session
            ended.append(token)
            if refresh:
                self.expired_refresh.add(session.refresh_token)
                self.refresh.pop(session.refresh_token, None)
        return ended

    def profile(self, session: Session) -> dict[str, Any]:
        # The docs print the two lists as strings holding lists (not valid JSON); real lists here.
        return {"clientcode": session.client_code, "name": "FAKE USER",
                "email": f"{session.client_code.lower()}@example.invalid", "mobileno": "",
                "exchanges": list(EXCHANGES), "products": list(PRODUCTS), "lastlogintime": "",
                "brokerid": "B2C"}

    # -- orders -----------------------------------------------------------------------------
    def _check_product(self, exchange: str, product: str) -> None:
        if product == "BO":
            raise AngelError(200, "AB1012", "Invalid Product Type: BO is only for ROBO orders")
        if product not in PRODUCTS:
            raise AngelError(200, "AB1012", "Invalid Product Type")
        if product in ("DELIVERY", "MARGIN") and exchange not in EQUITY_EXCHANGES:
            raise AngelError(200, "AB1012", f"Invalid Product Type: {product} is not allowed on {exchange}")
        if product == "CARRYFORWARD" and exchange in EQUITY_EXCHANGES:
            raise AngelError(200, "AB1012", f"Invalid Product Type: CARRYFORWARD is not allowed on {exchange}")

    def _check_variety(self, variety: str, order_type: str) -> None:
        if variety == "ROBO":
            raise AngelError(200, "AB2002", "ROBO order is block")
        if variety not in VARIETIES:
            raise AngelError(200, "AB1008", "Invalid Order Variety")
        if order_type not in ORDER_TYPES:
            raise _invalid("Invalid ordertype")
        if (variety == "STOPLOSS") != (order_type in STOPLOSS_TYPES):
            raise AngelError(200, "AB1008", f"Invalid Order Variety: {order_type} orders need variety "
                             f"{'STOPLOSS' if order_type in STOPLOSS_TYPES else 'NORMAL'}")

    def _check_prices(self, order_type: str, price: float, trigger: float) -> None:
        if order_type in PRICED_TYPES and price <= 0:
            raise _invalid(f"Invalid price: {order_type} orders need a price")
        if order_type in STOPLOSS_TYPES and trigger <= 0:
            raise _invalid(f"Invalid triggerprice: {order_type} orders need a trigger price")

    def _check_quantity(self, exchange: str, lotsize: int, quantity: int, disclosed: int) -> None:
        if exchange in LOT_EXCHANGES and lotsize > 1 and quantity % lotsize:
            raise _invalid(f"Invalid quantity: must be a multiple of the lot size {lotsize}")
        if disclosed > quantity:
            raise _invalid("Invalid disclosedquantity")

    def place(self, client_code: str, params: dict[str, Any]) -> dict[str, Any]:
        variety, order_type = _text(params, "variety"), _text(params, "ordertype")
        self._check_variety(variety, order_type)
        exchange = _text(params, "exchange")
        if exchange not in EXCHANGES:
            raise _invalid("Invalid exchange")
        product = _text(params, "producttype")
        self._check_product(exchange, product)
        row = self.scrips.find(exchange, _text(params, "tradingsymbol"), _text(params, "symboltoken"))
        if row["instrumenttype"] == "AMXIDX":
            raise _invalid("Invalid symbol: an index cannot be traded")
        side = _text(params, "transactiontype")
        if side not in ("BUY", "SELL"):
            raise _invalid("Invalid transactiontype")
        duration = _text(params, "duration") or "DAY"
        if duration not in DURATIONS:
            raise _invalid("Invalid duration")
        if duration == "IOC" and exchange == "MCX":
            raise _invalid("IOC orders are not allowed for commodities segment")
        quantity = _quantity(params, "quantity")
        disclosed = _quantity(params, "disclosedquantity", required=False)
        price, trigger = _number(params, "price"), _number(params, "triggerprice")
        self._check_prices(order_type, price, trigger)
        details = instrument_details(row)
        self._check_quantity(exchange, details["lotsize"], quantity, disclosed)
        tag = _text(params, "ordertag")
        if len(tag) > 20:  # the docs say "less than 20"; 20 itself is accepted here (ambiguous)
            raise AngelError(200, "AB4008", "ordertag length should be less than 20 characters")
        account = self.account(client_code)
        order_id = f"{self.day}{next(self._order_ids):09d}"
        order: dict[str, Any] = {
            "variety": variety, "ordertype": order_type, "producttype": product, "duration": duration,
            "price": price if order_type in PRICED_TYPES else 0.0,
            "triggerprice": trigger if order_type in STOPLOSS_TYPES else 0.0,
            "quantity": quantity, "disclosedquantity": disclosed,
            "squareoff": 0.0, "stoploss": 0.0, "trailingstoploss": 0.0,
            "tradingsymbol": row["symbol"], "transactiontype": side, "exchange": exchange,
            "symboltoken": row["token"], "ordertag": tag, "instrumenttype": details["instrumenttype"],
            "strikeprice": details["strikeprice"], "optiontype": details["optiontype"],
            "expirydate": details["expirydate"], "lotsize": details["lotsize"], "cancelsize": 0,
            "averageprice": 0.0, "filledshares": 0, "unfilledshares": quantity, "orderid": order_id,
            "text": "", "status": "", "orderstatus": "", "updatetime": "", "exchtime": "",
            "exchorderupdatetime": "", "fillid": "", "filltime": "", "parentorderid": "",
            "uniqueorderid": str(uuid.uuid4()), "exchangeorderid": "",
            "client_code": client_code, "symbolgroup": "EQ" if exchange in EQUITY_EXCHANGES else "",
            "precision": details["precision"], "symbolname": details["symbolname"],
        }
        account.orders[order_id] = order
        self._change(account, order, status="open pending")
        if account.reject_next:
            self._change(account, order, status="rejected", text=account.reject_next.pop(0))
        else:
            now = angel_time()
            self._change(account, order, status="trigger pending" if order_type in STOPLOSS_TYPES else "open",
                         exchangeorderid=f"11{next(self._exchange_ids):014d}", exchtime=now,
                         exchorderupdatetime=now)
        return {"script": order["tradingsymbol"], "orderid": order_id, "uniqueorderid": order["uniqueorderid"]}

    def order(self, client_code: str, order_id: str) -> dict[str, Any]:
        order = self.account(client_code).orders.get(order_id)
        if order is None:
            raise AngelError(200, "AB1013", "Order not found")
        return order

    def _working(self, order: dict[str, Any], action: str) -> None:
        if order["orderstatus"] not in WORKING:
            raise _invalid(f"Order cannot be {action} as it is {order['orderstatus']}")

    def modify(self, client_code: str, params: dict[str, Any]) -> dict[str, Any]:
        order = self.order(client_code, _text(params, "orderid"))
        variety = _text(params, "variety")
        if variety != order["variety"]:
            raise AngelError(200, "AB1008", "Invalid Order Variety")
        self._working(order, "modified")
        for name in ("exchange", "tradingsymbol", "symboltoken"):
            if _text(params, name) and _text(params, name) != order[name]:
                raise AngelError(200, "AB1009", "Symbol Not Found")
        product = _text(params, "producttype") or order["producttype"]
        if product != order["producttype"]:
            raise AngelError(200, "AB1012", "Invalid Product Type: the product of an order cannot be modified")
        order_type = _text(params, "ordertype") or order["ordertype"]
        self._check_variety(variety, order_type)
        duration = _text(params, "duration") or order["duration"]
        if duration not in DURATIONS:
            raise _invalid("Invalid duration")
        quantity = _quantity(params, "quantity") if _text(params, "quantity") else order["quantity"]
        if quantity < order["filledshares"] or quantity == 0:
            raise _invalid("Invalid quantity: less than the filled quantity")
        self._check_quantity(order["exchange"], order["lotsize"], quantity, order["disclosedquantity"])
        price = _number(params, "price") if _text(params, "price") else order["price"]
        trigger = _number(params, "triggerprice") if _text(params, "triggerprice") else order["triggerprice"]
        self._check_prices(order_type, price, trigger)
        account = self.account(client_code)
        working = order["orderstatus"]
        self._change(account, order, status="modify pending")
        self._change(account, order, status="modified", orderstatus=working, ordertype=order_type,
                     duration=duration, quantity=quantity, unfilledshares=quantity - order["filledshares"],
                     price=price if order_type in PRICED_TYPES else 0.0,
                     triggerprice=trigger if order_type in STOPLOSS_TYPES else 0.0,
                     exchorderupdatetime=angel_time())
        if order["filledshares"] == quantity:
            self._change(account, order, status="complete")
        return {"orderid": order["orderid"], "uniqueorderid": order["uniqueorderid"]}

    def cancel(self, client_code: str, params: dict[str, Any]) -> dict[str, Any]:
        order = self.order(client_code, _text(params, "orderid"))
        if _text(params, "variety") != order["variety"]:
            raise AngelError(200, "AB1008", "Invalid Order Variety")
        self._working(order, "cancelled")
        # The docs' cancelled order shows an empty text: a user's cancel gives no reason.
        self._change(self.account(client_code), order, status="cancelled", text="",
                     cancelsize=order["quantity"] - order["filledshares"], exchorderupdatetime=angel_time())
        return {"orderid": order["orderid"], "uniqueorderid": order["uniqueorderid"]}

    def order_book(self, client_code: str) -> list[dict[str, Any]] | None:
        rows = [render_order(o, numeric_prices=False) for o in self.account(client_code).orders.values()]
        return rows or None  # Angel answers an empty book with data: null

    def order_details(self, client_code: str, unique_order_id: str) -> dict[str, Any]:
        for order in self.account(client_code).orders.values():
            if order["uniqueorderid"] == unique_order_id:
                return render_order(order, numeric_prices=True)
        raise AngelError(200, "AB1013", "Order not found")

    def _change(self, account: Account, order: dict[str, Any], **changes: Any) -> None:
        if "status" in changes and "orderstatus" not in changes:
            changes["orderstatus"] = changes["status"]
        order.update(changes)
        order["updatetime"] = angel_time()
        code = ORDER_STATUS_CODES.get(order["status"], "AB01")
        self.on_order(account.client_code,
                      ws_message(account.client_code, code, render_order(order, True, WS_KEYS)))

    # -- the exchange simulator (the tests' /_fake/ commands) -------------------------------
    def _find(self, order_id: str) -> tuple[Account, dict[str, Any]]:
        for account in self.accounts.values():
            if order_id in account.orders:
                return account, account.orders[order_id]
        raise AngelError(404, "FAKE", f"no order {order_id}")

    def fill(self, order_id: str, quantity: int | None = None, price: float | None = None) -> dict[str, Any]:
        """An execution: all of the unfilled quantity by default, at the order's price (its
        trigger price for a stop-loss market order) by default; a market order needs ``price``."""
        account, order = self._find(order_id)
        if order["orderstatus"] not in WORKING:
            raise AngelError(409, "FAKE", f"order {order_id} is {order['orderstatus']}")
        pending = order["quantity"] - order["filledshares"]
        quantity = pending if quantity is None else quantity
        if not 0 < quantity <= pending:
            raise AngelError(400, "FAKE", f"fill quantity {quantity} not in 1..{pending}")
        price = price if price is not None else (order["price"] or order["triggerprice"])
        if not price or price <= 0:
            raise AngelError(400, "FAKE", "a price is needed to fill this order")
        if order["orderstatus"] == "trigger pending":
            self._change(account, order, status="open")
        now = datetime.now(IST)
        trade: dict[str, Any] = {
            "exchange": order["exchange"], "producttype": order["producttype"],
            "tradingsymbol": order["tradingsymbol"], "symboltoken": order["symboltoken"],
            "instrumenttype": order["instrumenttype"], "symbolgroup": order["symbolgroup"],
            "strikeprice": order["strikeprice"], "optiontype": order["optiontype"],
            "expirydate": order["expirydate"], "marketlot": order["lotsize"], "precision": order["precision"],
            "multiplier": -1, "tradevalue": price * quantity, "transactiontype": order["transactiontype"],
            "fillprice": price, "fillsize": quantity, "orderid": order_id,
            "fillid": str(next(self._fill_ids)), "filltime": now.strftime("%H:%M:%S"),
            "symbolname": order["symbolname"],
        }
        account.trades.append(trade)
        filled = order["filledshares"] + quantity
        average = (order["averageprice"] * order["filledshares"] + price * quantity) / filled
        self._change(account, order, filledshares=filled, unfilledshares=order["quantity"] - filled,
                     averageprice=round(average, 4), fillid=trade["fillid"], filltime=trade["filltime"],
                     status="complete" if filled == order["quantity"] else "open",
                     exchorderupdatetime=angel_time(now))
        return trade_row(trade)

    def reject(self, order_id: str, reason: str) -> None:
        account, order = self._find(order_id)
        if order["orderstatus"] not in WORKING:
            raise AngelError(409, "FAKE", f"order {order_id} is {order['orderstatus']}")
        self._change(account, order, status="rejected", text=reason)

    def exchange_cancel(self, order_id: str, reason: str) -> None:
        account, order = self._find(order_id)
        if order["orderstatus"] not in WORKING:
            raise AngelError(409, "FAKE", f"order {order_id} is {order['orderstatus']}")
        self._change(account, order, status="cancelled", text=reason,
                     cancelsize=order["quantity"] - order["filledshares"], exchorderupdatetime=angel_time())

    def trigger(self, order_id: str) -> None:
        account, order = self._find(order_id)
        if order["orderstatus"] != "trigger pending":
            raise AngelError(409, "FAKE", f"order {order_id} is {order['orderstatus']}")
        self._change(account, order, status="open", exchorderupdatetime=angel_time())

    # -- books and portfolio ----------------------------------------------------------------
    def trade_book(self, client_code: str) -> list[dict[str, Any]] | None:
        account = self.account(client_code)
        trades = account.trades
        if account.trades_lag > 0:  # the trade book behind the order book, for a read
            account.trades_lag -= 1
            trades = trades[:-1]
        return [trade_row(t) for t in trades] or None

    def positions(self, client_code: str) -> list[dict[str, Any]] | None:
        """One row per (exchange, tradingsymbol, producttype): today's buys and sells (buyqty,
        sellqty, ...), what earlier days carried (cfbuyqty / cfsellqty), and the totals and net
        over both (netqty = buyqty + cfbuyqty - sellqty - cfsellqty)."""
        account = self.account(client_code)
        sums: dict[tuple[str, str, str], dict[str, Any]] = {}

        def entry(key: tuple[str, str, str], token: str, details: dict[str, Any]) -> dict[str, Any]:
            return sums.setdefault(key, {"token": token, "details": details, "buyqty": 0, "sellqty": 0,
                                         "buyamount": 0.0, "sellamount": 0.0, "cfbuyqty": 0, "cfsellqty": 0,
                                         "cfbuyamount": 0.0, "cfsellamount": 0.0})

        for trade in account.trades:
            key = (trade["exchange"], trade["tradingsymbol"], trade["producttype"])
            s = entry(key, trade["symboltoken"], {k: trade[k] for k in ("instrumenttype", "strikeprice", "optiontype",
                                                                       "expirydate", "symbolname", "precision",
                                                                       "symbolgroup")} | {"lotsize": trade["marketlot"]})
            side = "buy" if trade["transactiontype"] == "BUY" else "sell"
            s[f"{side}qty"] += trade["fillsize"]
            s[f"{side}amount"] += trade["fillsize"] * trade["fillprice"]
        for key, (token, quantity, price) in account.overnight.items():
            row = self.scrips.by_symbol.get((key[0], key[1]))
            details = instrument_details(row)
            details["symbolgroup"] = "EQ" if key[0] in EQUITY_EXCHANGES else ""
            s = entry(key, token, details)
            side = "cfbuy" if quantity > 0 else "cfsell"
            s[f"{side}qty"] += abs(quantity)
            s[f"{side}amount"] += abs(quantity) * price
        rows = []
        for (exchange, symbol, product), s in sums.items():
            d = s["details"]
            places = int(d["precision"])

            def avg(amount: float, qty: int) -> float:
                return amount / qty if qty else 0.0

            buys, sells = s["buyqty"] + s["cfbuyqty"], s["sellqty"] + s["cfsellqty"]
            buy_value, sell_value = s["buyamount"] + s["cfbuyamount"], s["sellamount"] + s["cfsellamount"]
            net = buys - sells
            net_price = avg(buy_value, buys) if net > 0 else avg(sell_value, sells) if net < 0 else 0.0

            def n(value: float) -> str:
                return text_number(value, places)

            rows.append({
                "exchange": exchange, "symboltoken": s["token"], "producttype": product, "tradingsymbol": symbol,
                "symbolname": d["symbolname"], "instrumenttype": d["instrumenttype"], "priceden": "1",
                "pricenum": "1", "genden": "1", "gennum": "1", "precision": str(places), "multiplier": "-1",
                "boardlotsize": "1", "buyqty": str(s["buyqty"]), "sellqty": str(s["sellqty"]),
                "buyamount": n(s["buyamount"]), "sellamount": n(s["sellamount"]), "symbolgroup": d["symbolgroup"],
                "strikeprice": "-1" if d["strikeprice"] < 0 else n(d["strikeprice"]), "optiontype": d["optiontype"],
                "expirydate": d["expirydate"], "lotsize": str(d["lotsize"]), "cfbuyqty": str(s["cfbuyqty"]),
                "cfsellqty": str(s["cfsellqty"]), "cfbuyamount": n(s["cfbuyamount"]),
                "cfsellamount": n(s["cfsellamount"]), "buyavgprice": n(avg(s["buyamount"], s["buyqty"])),
                "sellavgprice": n(avg(s["sellamount"], s["sellqty"])), "avgnetprice": n(net_price),
                "netvalue": n(sell_value - buy_value), "netqty": str(net), "totalbuyvalue": n(buy_value),
                "totalsellvalue": n(sell_value), "cfbuyavgprice": n(avg(s["cfbuyamount"], s["cfbuyqty"])),
                "cfsellavgprice": n(avg(s["cfsellamount"], s["cfsellqty"])),
                "totalbuyavgprice": n(avg(buy_value, buys)), "totalsellavgprice": n(avg(sell_value, sells)),
                "netprice": n(net_price),
            })
        return rows or None

    def rms(self, client_code: str) -> dict[str, str]:
        """getRMS, every value a string as documented; the fake keeps no margin, so only the cash
        set by the funds control moves."""
        cash = text_number(self.account(client_code).cash)
        zero = "0"
        return {"net": cash, "availablecash": cash, "availableintradaypayin": zero, "availablelimitmargin": zero,
                "collateral": zero, "m2munrealized": zero, "m2mrealized": zero, "utiliseddebits": zero,
                "utilisedspan": zero, "utilisedoptionpremium": zero, "utilisedholdingsales": zero,
                "utilisedexposure": zero, "utilisedturnover": zero, "utilisedpayout": zero}


TRADE_KEYS = ("exchange", "producttype", "tradingsymbol", "instrumenttype", "symbolgroup", "strikeprice",
              "optiontype", "expirydate", "marketlot", "precision", "multiplier", "tradevalue", "transactiontype",
              "fillprice", "fillsize", "orderid", "fillid", "filltime")


def trade_row(trade: dict[str, Any]) -> dict[str, str]:
    """A trade as getTradeBook shows it: every value a string, fill time HH:MM:SS (docs)."""
    places = int(trade["precision"])
    return {"exchange": trade["exchange"], "producttype": trade["producttype"],
            "tradingsymbol": trade["tradingsymbol"], "instrumenttype": trade["instrumenttype"],
            "symbolgroup": trade["symbolgroup"],
            "strikeprice": "-1" if trade["strikeprice"] < 0 else text_number(trade["strikeprice"], places),
            "optiontype": trade["optiontype"], "expirydate": trade["expirydate"], "marketlot": str(trade["marketlot"]),
            "precision": str(places), "multiplier": str(trade["multiplier"]),
            "tradevalue": f"{trade['tradevalue']:.{places}f}", "transactiontype": trade["transactiontype"],
            "fillprice": f"{trade['fillprice']:.{places}f}", "fillsize": str(trade["fillsize"]),
            "orderid": trade["orderid"], "fillid": trade["fillid"], "filltime": trade["filltime"]}
