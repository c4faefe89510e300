"""The base class users subclass: handlers called by `run`, and the calls they may make."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Union

from .messages import Bar, Event, Tick

if TYPE_CHECKING:
    from .connection import Link

Number = Union[int, str, Decimal]

_WORKING = {"PENDING", "OPEN", "PARTIALLY_FILLED"}
# Refused orders remembered in case an event shows they were not (the engine remembers 10,000
# client order ids per process).
_MAX_DOUBTFUL = 10_000
_NOT_CONNECTED = "not connected: calls are made from handlers, once run() has started the strategy"


def _price(value: Optional[Number]) -> Optional[Decimal]:
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError("prices are Decimal (or int or str), never float: a float misrounds money")
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise TypeError(f"a price is a Decimal, an int or a str, not {value!r}")
    try:
        price = Decimal(value)
    except ArithmeticError:
        raise ValueError(f"not a price: {value!r}") from None
    if not price.is_finite():
        raise ValueError(f"not a price: {value!r}")
    return price


@dataclass
class _Working:
    """An order this process sent that may still fill."""

    symbol: str
    exchange: str
    sign: int  # +1 BUY, -1 SELL
    remaining: int  # not yet filled (unsigned)
    # An event of it arrived: the engine took it, so an `error` naming it is about a modify or
    # cancel, not a refusal of the order.
    seen: bool = False


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
        # client_order_id -> what its order may still add, while it may.
        self._orders: Dict[str, _Working] = {}
        # Orders an `error` named before any event of theirs: usually a refused order.new, but
        # also a cancel or modify sent before the engine knew the order, so an event brings
        # them back.
        self._doubtful: Dict[str, _Working] = {}

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

    def on_edit(self) -> None:
        """The strategy was edited while this process was connected (`strategy edit`, then a
        reload): `self.params`, `self.name` and the positions are the new ones already."""

    # Calls --------------------------------------------------------------------------------

    def position(self, symbol: str, exchange: str = "NSE") -> int:
        """The strategy's filled position (signed), as the engine's desk holds it: its fills,
        the engine's own orders for it (an MIS square-off, a flatten) included."""
        return self._positions.get((symbol, exchange), 0)

    def open_quantity(self, symbol: str, exchange: str = "NSE") -> int:
        """What this process's working orders would still add (signed): sent and not yet
        filled, rejected or cancelled."""
        return sum(o.sign * o.remaining for o in self._orders.values() if o.symbol == symbol and o.exchange == exchange)

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
        # Everything checked before the order is booked: a refused call leaves no phantom order
        # in open_quantity.
        fields = {"symbol": symbol, "exchange": exchange, "transaction_type": side, "quantity": quantity,
                  "order_type": order_type, "price": _price(price), "trigger_price": _price(trigger_price),
                  "stoploss": _price(stoploss), "target": _price(target), "product": product}
        if self._link is None:
            raise RuntimeError(_NOT_CONNECTED)
        client_order_id = str(uuid.uuid4())
        self._orders[client_order_id] = _Working(symbol, exchange, 1 if side == "BUY" else -1, quantity)
        self._send("order.new", {"client_order_id": client_order_id, **fields})
        return client_order_id

    def _send(self, topic: str, fields: Dict[str, Any]) -> None:
        if self._link is None:
            raise RuntimeError(_NOT_CONNECTED)
        self._link.send(topic, fields)

    def _note_order(self, event: Event) -> None:
        client_order_id = event.get("client_order_id")
        if not client_order_id:
            return
        if client_order_id in self._doubtful:
            self._orders[client_order_id] = self._doubtful.pop(client_order_id)
        working = self._orders.get(client_order_id)
        if working is None:
            return
        working.seen = True
        if event.get("status") in _WORKING:
            quantity = int(event.get("quantity", 0) or 0)
            filled = int(event.get("filled_quantity", 0) or 0)
            working.remaining = max(0, quantity - filled)
        else:
            del self._orders[client_order_id]

    def _refused(self, client_order_id: Optional[str]) -> None:
        """An `error` naming one of its orders: an order.new refused (nothing was created), unless
        an event showed the engine has the order (then a modify or cancel was refused)."""
        if not client_order_id:
            return
        working = self._orders.get(client_order_id)
        if working is not None and not working.seen:
            if len(self._doubtful) >= _MAX_DOUBTFUL:
                del self._doubtful[next(iter(self._doubtful))]
            self._doubtful[client_order_id] = self._orders.pop(client_order_id)
