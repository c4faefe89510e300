"""Row 6b of `make bench`: NautilusTrader's `BacktestEngine` running the SDK example's
`sma_crossover` logic (sdk/python/examples/sma_crossover.py) on the same stored ticks.

    nautilus_sma_peer.py TICKS.csv SYMBOL EXCHANGE FAST SLOW QUANTITY [FILLS.csv]

TICKS.csv has no header; each row is `ts_ns,price,volume` (the bench exports it from the bench
database's `market_data` with COPY, in the replay's order). The strategy is the SDK example's,
line for line: simple moving averages of the last FAST and SLOW trade prices as exact `Decimal`
sums, compared cross-multiplied; a signal only on a tick where both windows were full on the
previous tick; long only: fast crossing above slow while flat (nothing held or on the way) buys
QUANTITY at MARKET, crossing below while long sells the whole position at MARKET.

The venue is set up so that Nautilus fills what the engine's paper desk fills (docs: the
bench's analysis, row 6b): one NETTING cash account with enough INR that no order is refused
for balance, no fees, a FillModel with no random slippage, MARKET orders that fill on the tick
the strategy answered (Nautilus drains its venue's message queue after each tick's handlers,
against the L1 book that trade made). The bench trades a quantity of 1 because Nautilus fills a
MARKET order only up to the trade's size at its price and the rest one tick worse (a second
fill); the engine's paper desk fills the whole order at the tick's price.

Printed on stdout, one JSON object: ticks, orders, fill events, filled orders, the position at
the end, the seconds of loading (CSV to `TradeTick`s and `add_data`), of
`engine.run()` alone, and from the process's imports to the end. FILLS.csv, if given, gets a
line `SIDE,QUANTITY,PRICE` per fill, in order (the bench compares them with the replay's).
"""

from __future__ import annotations

import json
import sys
import time

STARTED = time.monotonic()

from collections import deque  # noqa: E402
from decimal import Decimal  # noqa: E402
from typing import Any, Deque, Dict, List, Optional  # noqa: E402

import numpy as np  # noqa: E402
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig  # noqa: E402
from nautilus_trader.backtest.models import FillModel  # noqa: E402
from nautilus_trader.config import LoggingConfig, StrategyConfig  # noqa: E402
from nautilus_trader.model.currencies import INR  # noqa: E402
from nautilus_trader.model.data import TradeTick  # noqa: E402
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide  # noqa: E402
from nautilus_trader.model.events import OrderCanceled, OrderDenied, OrderFilled, OrderRejected  # noqa: E402
from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue  # noqa: E402
from nautilus_trader.model.instruments import Equity  # noqa: E402
from nautilus_trader.model.objects import Money, Price, Quantity  # noqa: E402
from nautilus_trader.trading.strategy import Strategy  # noqa: E402


class Window:
    """The SDK example's window: the last `size` prices and their exact sum."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.prices: Deque[Decimal] = deque()
        self.sum = Decimal(0)

    def add(self, price: Decimal) -> None:
        self.prices.append(price)
        self.sum += price
        if len(self.prices) > self.size:
            self.sum -= self.prices.popleft()

    @property
    def full(self) -> bool:
        return len(self.prices) == self.size


class SMAConfig(StrategyConfig, frozen=True):
    instrument_id: str
    fast: int
    slow: int
    quantity: int


class SMACrossover(Strategy):  # type: ignore[misc]
    """sdk/python/examples/sma_crossover.py on Nautilus: `on_trade_tick` for `on_tick`, the
    portfolio's net position for `position()`, and what its orders on the way will add for
    `open_quantity()` (kept from the order events, as the SDK keeps it)."""

    def __init__(self, config: SMAConfig) -> None:
        super().__init__(config)
        self.instrument_id = InstrumentId.from_str(config.instrument_id)
        self.quantity = int(config.quantity)
        self.fast, self.slow = Window(int(config.fast)), Window(int(config.slow))
        self.previous: Optional[int] = None
        self.on_the_way: Dict[Any, int] = {}  # client order id -> signed quantity not yet filled
        self.orders_sent = 0
        self.fill_events = 0
        self.filled_orders = 0
        self.fills: List[str] = []  # "BUY,1,2450.37" per fill event, in order

    def on_start(self) -> None:
        self.subscribe_trade_ticks(self.instrument_id)

    def comparison(self) -> int:
        lhs, rhs = self.fast.sum * self.slow.size, self.slow.sum * self.fast.size
        return -1 if lhs < rhs else (1 if lhs > rhs else 0)

    def on_trade_tick(self, tick: TradeTick) -> None:
        price = tick.price.as_decimal()
        self.fast.add(price)
        self.slow.add(price)
        if not (self.fast.full and self.slow.full):
            return
        now, previous = self.comparison(), self.previous
        self.previous = now
        if previous is None:
            return
        position = int(self.portfolio.net_position(self.instrument_id))
        held = position + sum(self.on_the_way.values())
        if previous <= 0 and now > 0 and held == 0:
            self.submit(OrderSide.BUY, self.quantity)
        elif previous >= 0 and now < 0 and held > 0:
            self.submit(OrderSide.SELL, held)

    def submit(self, side: Any, quantity: int) -> None:
        order = self.order_factory.market(self.instrument_id, side, Quantity.from_int(quantity))
        self.on_the_way[order.client_order_id] = quantity if side == OrderSide.BUY else -quantity
        self.orders_sent += 1
        self.submit_order(order)

    def on_order_filled(self, event: OrderFilled) -> None:
        self.fill_events += 1
        self.fills.append("%s,%d,%s" % ("BUY" if event.order_side == OrderSide.BUY else "SELL", int(event.last_qty),
                                        str(event.last_px)))
        signed = int(event.last_qty) if event.order_side == OrderSide.BUY else -int(event.last_qty)
        left = self.on_the_way.get(event.client_order_id, 0) - signed
        if left == 0:
            self.on_the_way.pop(event.client_order_id, None)
            self.filled_orders += 1
        else:
            self.on_the_way[event.client_order_id] = left

    def _gone(self, event: Any) -> None:
        self.on_the_way.pop(event.client_order_id, None)

    def on_order_rejected(self, event: OrderRejected) -> None:
        self._gone(event)

    def on_order_denied(self, event: OrderDenied) -> None:
        self._gone(event)

    def on_order_canceled(self, event: OrderCanceled) -> None:
        self._gone(event)


def load(path: str, instrument_id: InstrumentId) -> List[TradeTick]:
    """The CSV's ticks as Nautilus `TradeTick`s (no aggressor: the tape has none)."""
    ts: List[int] = []
    prices: List[float] = []
    sizes: List[float] = []
    with open(path, encoding="ascii") as f:
        for line in f:
            t, p, v = line.rstrip("\n").split(",")
            ts.append(int(t))
            prices.append(float(p))  # exact here: Price(x, 2) rounds a 2-decimal price back to itself
            sizes.append(float(v))
    stamps = np.array(ts, dtype=np.uint64)
    return list(TradeTick.from_raw_arrays_to_list(
        instrument_id, 2, 0,
        np.array(prices, dtype=np.float64), np.array(sizes, dtype=np.float64),
        np.zeros(len(ts), dtype=np.uint8),  # AggressorSide.NO_AGGRESSOR
        [str(i + 1) for i in range(len(ts))],
        stamps, stamps,
    ))


def main(argv: List[str]) -> int:
    path, symbol, exchange = argv[1], argv[2], argv[3]
    fast, slow, quantity = int(argv[4]), int(argv[5]), int(argv[6])
    venue = Venue(exchange)
    instrument_id = InstrumentId(Symbol(symbol), venue)
    instrument = Equity(
        instrument_id=instrument_id, raw_symbol=Symbol(symbol), currency=INR,
        price_precision=2, price_increment=Price.from_str("0.01"), lot_size=Quantity.from_int(1),
        ts_event=0, ts_init=0, maker_fee=Decimal(0), taker_fee=Decimal(0),
    )

    load_start = time.monotonic()
    engine = BacktestEngine(config=BacktestEngineConfig(
        trader_id="BENCH-001", logging=LoggingConfig(log_level="ERROR", bypass_logging=True), run_analysis=False,
    ))
    engine.add_venue(
        venue=venue, oms_type=OmsType.NETTING, account_type=AccountType.CASH, base_currency=INR,
        starting_balances=[Money(1_000_000_000, INR)],
        fill_model=FillModel(prob_fill_on_limit=1.0, prob_slippage=0.0),
    )
    engine.add_instrument(instrument)
    ticks = load(path, instrument_id)
    engine.add_data(ticks)
    strategy = SMACrossover(SMAConfig(instrument_id=str(instrument_id), fast=fast, slow=slow, quantity=quantity))
    engine.add_strategy(strategy)
    load_seconds = time.monotonic() - load_start

    run_start = time.monotonic()
    engine.run()
    run_seconds = time.monotonic() - run_start

    if len(argv) > 7:
        with open(argv[7], "w", encoding="ascii") as f:
            f.write("".join(line + "\n" for line in strategy.fills))
    result = {
        "ticks": len(ticks), "orders": strategy.orders_sent, "fill_events": strategy.fill_events,
        "filled_orders": strategy.filled_orders,
        "position": int(engine.portfolio.net_position(instrument_id)),
        "load_seconds": load_seconds, "run_seconds": run_seconds, "total_seconds": time.monotonic() - STARTED,
        "nautilus_trader": __import__("nautilus_trader").__version__,
    }
    engine.dispose()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
