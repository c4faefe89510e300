"""Angel One's scrip master (``OpenAPIScripMaster.json``, public, refreshed daily by Angel): the
``symboltoken`` every SmartAPI order and subscription names, and Angel's own trading symbol.

The engine names instruments as its instrument master does (Zerodha's layout: ``INFY`` on NSE,
``NIFTY26DECFUT``, ``NIFTY26DEC24000CE`` for a monthly option, ``NIFTY2612324000CE`` for a weekly
one). Angel names NSE equities ``INFY-EQ`` and every derivative with its expiry day
(``NIFTY30DEC26FUT``, ``NIFTY30DEC2624000CE``). ``ScripMaster.find`` takes either name: Angel's
own, the NSE ``-EQ`` form, or the Zerodha-style name built here from each derivative row's name,
expiry, strike and option type (monthly when the row's expiry is the last of its month for that
underlying, weekly otherwise, as Zerodha tells them apart).
"""
from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..instrument_names import derivative_name, monthly_expiries

EXCHANGES = ("NSE", "BSE", "NFO", "BFO", "MCX", "CDS")


@dataclass(frozen=True)
class Scrip:
    exchange: str
    symbol: str        # Angel's tradingsymbol
    token: str         # Angel's symboltoken
    name: str
    instrument_type: str
    expiry: date | None
    strike: float | None
    lot_size: int


def _expiry(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%d%b%Y").date() if text else None
    except ValueError:
        return None


def _strike(text: str) -> float | None:
    # Angel's strike is in paise-like hundredths ("2400000.000000" is 24000); -1 for none.
    try:
        value = float(text) / 100
    except ValueError:
        return None
    return value if value > 0 else None


class ScripMaster:
    """The rows of the exchanges a gateway trades, indexed by every name ``find`` accepts."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.count = 0
        self._by_name: dict[tuple[str, str], Scrip] = {}
        self._engine: dict[tuple[str, str], str] = {}   # Angel's symbol -> the engine's name
        scrips: list[Scrip] = []
        for row in rows:
            exchange = str(row.get("exch_seg") or "")
            if exchange not in EXCHANGES or not row.get("token") or not row.get("symbol"):
                continue
            try:
                lot = int(float(str(row.get("lotsize") or "1")))
            except ValueError:
                lot = 1
            scrip = Scrip(exchange=exchange, symbol=str(row["symbol"]), token=str(row["token"]), name=str(row.get("name") or ""),
                          instrument_type=str(row.get("instrumenttype") or ""), expiry=_expiry(str(row.get("expiry") or "")),
                          strike=_strike(str(row.get("strike") or "-1")), lot_size=max(1, lot))
            scrips.append(scrip)
            self._by_name[(exchange, scrip.symbol.upper())] = scrip
        self.count = len(scrips)
        # The last expiry of each month per underlying and kind: monthly contracts (per exchange).
        monthly: dict[str, set[tuple[str, str, date]]] = {}
        for exchange in {s.exchange for s in scrips if s.expiry is not None}:
            monthly[exchange] = monthly_expiries((s.name, s.instrument_type[:3], s.expiry) for s in scrips
                                                 if s.exchange == exchange and s.expiry is not None)
        for scrip in scrips:
            aliases = self._aliases(scrip, monthly.get(scrip.exchange, set()))
            for alias in aliases:
                self._by_name.setdefault((scrip.exchange, alias), scrip)
            if aliases:
                self._engine[(scrip.exchange, scrip.symbol.upper())] = aliases[0]

    @staticmethod
    def _aliases(scrip: Scrip, monthly: set[tuple[str, str, date]]) -> list[str]:
        if scrip.exchange == "NSE" and scrip.symbol.upper().endswith("-EQ"):
            return [scrip.symbol.upper()[:-3]]
        if scrip.expiry is None or not scrip.name:
            return []
        kind = scrip.instrument_type[:3]
        if kind == "FUT":
            return [derivative_name(scrip.name, "FUT", scrip.expiry, None, "", monthly=True)]
        option = scrip.symbol.upper()[-2:]
        if kind != "OPT" or option not in ("CE", "PE") or scrip.strike is None:
            return []
        return [derivative_name(scrip.name, "OPT", scrip.expiry, scrip.strike, option,
                                monthly=(scrip.name.upper(), kind, scrip.expiry) in monthly)]

    def find(self, exchange: str, symbol: str) -> Scrip | None:
        return self._by_name.get((exchange.upper(), symbol.upper()))

    def engine_name(self, exchange: str, angel_symbol: str) -> str:
        """The name the engine knows Angel's ``tradingsymbol`` by (itself when no other)."""
        return self._engine.get((exchange.upper(), angel_symbol.upper()), angel_symbol)

    @classmethod
    def load(cls, source: str, timeout: float = 120.0) -> "ScripMaster":
        """From a URL (http, https) or a file path; OSError or ValueError when it cannot be read."""
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=timeout) as answer:  # noqa: S310 (a configured URL)
                data = json.load(answer)
        else:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError("the scrip master is not a JSON list")
        return cls([row for row in data if isinstance(row, dict)])
