"""algotrader's strategy SDK: subclass `Strategy`, then `run(MyStrategy)` (docs/strategies-sdk.md)."""

from .connection import Runner, run
from .messages import Bar, Event, Tick
from .strategy import Strategy

__all__ = ["Bar", "Event", "Runner", "Strategy", "Tick", "run"]
