"""The base class users subclass: handlers called by `run`, and the calls they may make."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Union

from .messages import Bar, Event, Tick

if TYPE_CHECKING:
    from .connection import Link

Number = Union[int, str, Decimal]

_WORKING = {"PENDING", "OPEN", "PARTIALLY_FILLED"}


def _price(value: Optional[Number]) -> Optional[Decimal]:
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError("prices are Decimal (or int or str), never float: a float misrounds money")
    return Decimal(value)


class Strategy:
    """Subclass it and override the handlers you need. Handlers run one at a time, in the order
    the engine sent their events; calls such as `buy` only send a request: what became of it
    arrives later as `on_order` and `on_fill`."""

    def __init__(self) -> None:
        self.params: Dict[str, Any] = {}
        self.strategy_id: str = ""
        self.name: str = ""
        self._link: Optional["Link"] = None
        self._positions: Dict[Tuple[str, str], int] = {}
        # client_order_id -> (symbol, exchange, signed quantity not yet filled, final?)
        self._orders: Dict[str, Tuple[str, str, int]] = {}

    # Handlers -----------------------------------------------------------------------------

    def on_start(self) -> None:
        """Once the engine has confirmed the subscription (`self.params` is set)."""

    def on_tick(self, tick: Tick) -> None:
        """A tick of a declared instrument."""

    def on_bar(self, bar: Bar) -> None:
        """A closed bar of a declared instrument and interval."""

    def on_order(self, order: Event) -> None:
        """An order event of this strategy (section 2's payload plus `client_order_id`)."""

    def on_fill(self, fill: Event) -> None:
        """A fill of this strategy."""

    def on_stop(self) -> None:
        """The strategy was stopped (by the engine, or the process is ending)."""

    # Calls --------------------------------------------------------------------------------

    def position(self, symbol: str, exchange: str = "NSE") -> int:
        """The strategy's filled position (signed), as the engine's desk holds it: its fills,
        the engine's own orders for it (an MIS square-off, a flatten) included."""
        return self._positions.get((symbol, exchange), 0)

    def open_quantity(self, symbol: str, exchange: str = "NSE") -> int:
        """What this process's working orders would still add (signed): sent and not yet
        filled, rejected or cancelled."""
        return sum(q for s, e, q in self._orders.values() if s == symbol and e == exchange)

    def buy(self, symbol: str, quantity: int, exchange: str = "NSE", order_type: str = "MARKET",
            price: Optional[Number] = None, trigger_price: Optional[Number] = None,
            stoploss: Optional[Number] = None, target: Optional[Number] = None, product: str = "MIS") -> str:
        """Sends a BUY; returns its client order id (its events carry it)."""
        return self._order("BUY", symbol, quantity, exchange, order_type, price, trigger_price, stoploss, target, product)

    def sell(self, symbol: str, quantity: int, exchange: str = "NSE", order_type: str = "MARKET",
             price: Optional[Number] = None, trigger_price: Optional[Number] = None,
             stoploss: Optional[Number] = None, target: Optional[Number] = None, product: str = "MIS") -> str:
        """Sends a SELL; returns its client order id."""
        return self._order("SELL", symbol, quantity, exchange, order_type, price, trigger_price, stoploss, target, product)

    def modify(self, client_order_id: str, quantity: Optional[int] = None, price: Optional[Number] = None,
               trigger_price: Optional[Number] = None) -> None:
        self._send("order.modify", {"client_order_id": client_order_id, "quantity": quantity,
                                    "price": _price(price), "trigger_price": _price(trigger_price)})

    def cancel(self, client_order_id: str) -> None:
        self._send("order.cancel", {"client_order_id": client_order_id})

    def log(self, message: str) -> None:
        """A line in the engine's `system_logs` (component `strategy`)."""
        self._send("log", {"message": str(message)})

    # Inside -------------------------------------------------------------------------------

    def _order(self, side: str, symbol: str, quantity: int, exchange: str, order_type: str, price: Optional[Number],
               trigger_price: Optional[Number], stoploss: Optional[Number], target: Optional[Number], product: str) -> str:
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ValueError(f"quantity must be a positive int, got {quantity!r}")
        client_order_id = str(uuid.uuid4())
        self._orders[client_order_id] = (symbol, exchange, quantity if side == "BUY" else -quantity)
        self._send("order.new", {
            "client_order_id": client_order_id, "symbol": symbol, "exchange": exchange, "transaction_type": side,
            "quantity": quantity, "order_type": order_type, "price": _price(price), "trigger_price": _price(trigger_price),
            "stoploss": _price(stoploss), "target": _price(target), "product": product,
        })
        return client_order_id

    def _send(self, topic: str, fields: Dict[str, Any]) -> None:
        if self._link is None:
            raise RuntimeError("not connected: calls are made from handlers, once run() has started the strategy")
        self._link.send(topic, fields)

    def _note_order(self, event: Event) -> None:
        client_order_id = event.get("client_order_id")
        if not client_order_id or client_order_id not in self._orders:
            return
        symbol, exchange, _ = self._orders[client_order_id]
        if event.get("status") in _WORKING:
            remaining = int(event.get("quantity", 0)) - int(event.get("filled_quantity", 0) or 0)
            self._orders[client_order_id] = (symbol, exchange, remaining if event.get("transaction_type") == "BUY" else -remaining)
        else:
            del self._orders[client_order_id]

    def _refused(self, client_order_id: Optional[str]) -> None:
        if client_order_id:
            self._orders.pop(client_order_id, None)
