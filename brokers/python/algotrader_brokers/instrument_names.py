"""The engine's names of derivatives, built from a broker's instrument rows. The engine names
instruments as its instrument master does (Zerodha's layout): ``NIFTY26DECFUT`` for a future,
``NIFTY26DEC24000CE`` for a monthly option and ``NIFTY2612324000CE`` for a weekly one (year,
then the month as 1-9, O, N, D, then the day). A contract is monthly when its expiry is the
last of its month for that underlying and kind, as Zerodha tells them apart. Angel One's and
ICICI Direct's masters name them otherwise; their gateways map through these."""
from __future__ import annotations

from datetime import date
from typing import Iterable

WEEKLY_MONTH = {1: "1", 2: "2", 3: "3", 4: "4", 5: "5", 6: "6", 7: "7", 8: "8", 9: "9", 10: "O", 11: "N", 12: "D"}


def strike_text(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def monthly_expiries(contracts: Iterable[tuple[str, str, date]]) -> set[tuple[str, str, date]]:
    """Of (underlying, kind "FUT"/"OPT", expiry), those whose expiry is the last of its month for
    that underlying and kind."""
    last: dict[tuple[str, str, int, int], date] = {}
    for underlying, kind, expiry in contracts:
        key = (underlying.upper(), kind, expiry.year, expiry.month)
        last[key] = max(last.get(key, expiry), expiry)
    return {(underlying, kind, expiry) for (underlying, kind, _, _), expiry in last.items()}


def derivative_name(underlying: str, kind: str, expiry: date, strike: float | None, option: str, monthly: bool) -> str:
    """The engine's name of a future (kind "FUT") or an option ("OPT", option "CE"/"PE")."""
    yy, mon = f"{expiry.year % 100:02d}", expiry.strftime("%b").upper()
    name = underlying.upper()
    if kind == "FUT":
        return f"{name}{yy}{mon}FUT"
    strike_part = strike_text(strike or 0)
    if monthly:
        return f"{name}{yy}{mon}{strike_part}{option}"
    return f"{name}{yy}{WEEKLY_MONTH[expiry.month]}{expiry.day:02d}{strike_part}{option}"
