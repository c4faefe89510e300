"""ICICI Direct's security master (``SecurityMaster.zip``, public, rebuilt by ICICI every morning):
the ICICI stock codes every Breeze order names and the tokens its stream subscribes.

Breeze names an instrument by ICICI's own short code (``RELIND`` for Reliance, ``STABAN`` for
SBI), the exchange, and for derivatives the product (futures / options), expiry, strike and
right. The engine names instruments as its instrument master does (Zerodha's layout: ``RELIANCE``
on NSE, ``NIFTY26DECFUT``, ``NIFTY26DEC24000CE`` monthly, ``NIFTY2612324000CE`` weekly).
``SecurityMaster.find`` maps the engine's name to the row; ``Security.engine_symbol`` is the way
back.

The files read, and their columns, by header name (ICICI's headers carry spaces and quotes,
stripped here): ``NSEScripMaster.txt`` and ``BSEScripMaster.txt`` (``Token``, ``ShortName``,
``ExchangeCode``: the exchange's symbol, ``CompanyName``, ``Lotsize``, ``ticksize``);
``FONSEScripMaster.txt`` (NFO) and ``FOBSEScripMaster.txt`` (BFO): ``Token``,
``InstrumentName`` (FUTIDX, FUTSTK, OPTIDX, OPTSTK), ``ShortName``, ``ExpiryDate``
(``27-Feb-2025``), ``StrikePrice``, ``OptionType`` (CE, PE, XX), ``LotSize``, ``ExchangeCode``
(the underlying's exchange symbol). Those names are what the SDK's readers and users' parsers
of the real file use; the fake (tests) builds its zip the same way.
"""
from __future__ import annotations

import csv
import io
import urllib.request
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from ..instrument_names import derivative_name, monthly_expiries

FILES = {"NSE": "NSESCRIPMASTER.TXT", "BSE": "BSESCRIPMASTER.TXT", "NFO": "FONSESCRIPMASTER.TXT",
         "BFO": "FOBSESCRIPMASTER.TXT"}
# The stream's exchange segment per exchange (breeze_connect's get_stock_token_value; BFO is 8
# for exchange quotes).
STREAM_SEGMENTS = {"NSE": "4", "NFO": "4", "BSE": "1", "BFO": "8"}
STREAM_EXCHANGES = {"4": ("NSE", "NFO"), "1": ("BSE",), "8": ("BFO",)}


@dataclass(frozen=True)
class Security:
    exchange: str
    token: str
    stock_code: str          # ICICI's ShortName, what orders and quotes name
    engine_symbol: str       # the engine's name of it
    product: str             # Breeze's product for it: cash, futures or options
    expiry: date | None
    strike: float | None
    right: str               # call, put, others
    lot_size: int

    @property
    def expiry_iso(self) -> str:
        """The expiry as Breeze's calls take it (``2025-02-27T06:00:00.000Z``), or ""."""
        return f"{self.expiry.isoformat()}T06:00:00.000Z" if self.expiry else ""

    @property
    def strike_text(self) -> str:
        if self.strike is None:
            return "0"
        return str(int(self.strike)) if self.strike == int(self.strike) else f"{self.strike:g}"


def stream_token(security: Security) -> str:
    """The stream's room for exchange quotes: ``4.1!2885``."""
    return f"{STREAM_SEGMENTS[security.exchange]}.1!{security.token}"


def _header(name: str) -> str:
    return name.strip().strip('"').strip().lower()


def _number(text: str | None) -> float | None:
    try:
        return float(str(text or "").strip().strip('"'))
    except ValueError:
        return None


class SecurityMaster:
    """The rows of the exchanges a gateway trades, by the engine's name and by token."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._by_name: dict[tuple[str, str], Security] = {}
        self._by_token: dict[tuple[str, str], Security] = {}
        self._by_code: dict[tuple[str, str, str, str, str], Security] = {}
        try:
            archive = zipfile.ZipFile(io.BytesIO(raw))
        except zipfile.BadZipFile as error:
            raise ValueError(f"the security master is not a zip: {error}") from None
        names = {name.upper().rsplit("/", 1)[-1]: name for name in archive.namelist()}
        found = [exchange for exchange, file in FILES.items() if file in names]
        if not found:
            raise ValueError("the security master holds none of " + ", ".join(FILES.values()))
        for exchange in found:
            text = archive.read(names[FILES[exchange]]).decode("utf-8", errors="replace")
            rows = list(csv.reader(io.StringIO(text), skipinitialspace=True))
            if not rows:
                continue
            header = [_header(h) for h in rows[0]]
            records = [{header[i]: cell.strip() for i, cell in enumerate(row) if i < len(header)} for row in rows[1:]]
            if exchange in ("NSE", "BSE"):
                self._cash(exchange, records)
            else:
                self._derivatives(exchange, records)
        self.count = len(self._by_token)

    def _add(self, security: Security) -> None:
        self._by_token[(security.exchange, security.token)] = security
        self._by_name.setdefault((security.exchange, security.engine_symbol.upper()), security)
        self._by_code[(security.exchange, security.stock_code.upper(), security.expiry.isoformat() if security.expiry else "",
                       security.strike_text, security.right)] = security

    def _cash(self, exchange: str, records: list[dict[str, str]]) -> None:
        for row in records:
            token, code = row.get("token", ""), row.get("shortname", "")
            symbol = row.get("exchangecode", "") or code
            if not token or not code or token == "0":
                continue
            lot = int(_number(row.get("lotsize")) or 1)
            self._add(Security(exchange=exchange, token=token, stock_code=code, engine_symbol=symbol.upper(), product="cash",
                               expiry=None, strike=None, right="others", lot_size=max(1, lot)))

    def _derivatives(self, exchange: str, records: list[dict[str, str]]) -> None:
        parsed: list[tuple[dict[str, str], str, date]] = []
        for row in records:
            kind = row.get("instrumentname", "").upper()[:3]
            try:
                expiry = datetime.strptime(row.get("expirydate", ""), "%d-%b-%Y").date()
            except ValueError:
                continue
            if kind in ("FUT", "OPT") and row.get("token") and row.get("shortname"):
                parsed.append((row, kind, expiry))
        monthly = monthly_expiries((row.get("exchangecode") or row["shortname"], kind, expiry) for row, kind, expiry in parsed)
        for row, kind, expiry in parsed:
            underlying = (row.get("exchangecode") or row["shortname"]).upper()
            option = row.get("optiontype", "").upper()
            strike = _number(row.get("strikeprice"))
            if kind == "OPT" and (option not in ("CE", "PE") or not strike):
                continue
            name = derivative_name(underlying, kind, expiry, strike, option,
                                   monthly=(underlying, kind, expiry) in monthly)
            lot = int(_number(row.get("lotsize")) or 1)
            self._add(Security(exchange=exchange, token=row["token"], stock_code=row["shortname"], engine_symbol=name,
                               product="futures" if kind == "FUT" else "options", expiry=expiry,
                               strike=strike if kind == "OPT" else None,
                               right={"CE": "call", "PE": "put"}.get(option, "others"), lot_size=max(1, lot)))

    def find(self, exchange: str, symbol: str) -> Security | None:
        return self._by_name.get((exchange.upper(), symbol.upper()))

    def by_token(self, exchange: str, token: str) -> Security | None:
        return self._by_token.get((exchange.upper(), token))

    def by_stream_token(self, room: str) -> Security | None:
        """The row a stream room (``4.1!2885``) names; NSE and NFO share segment 4."""
        segment, _, token = room.partition("!")
        for exchange in STREAM_EXCHANGES.get(segment.split(".")[0], ()):
            found = self._by_token.get((exchange, token))
            if found is not None:
                return found
        return None

    def by_code(self, exchange: str, stock_code: str, expiry: date | None = None, strike: float | None = None,
                right: str = "others") -> Security | None:
        """The row Breeze's answers describe (stock code, and for derivatives expiry, strike and right)."""
        strike_text = "0" if not strike else (str(int(strike)) if strike == int(strike) else f"{strike:g}")
        return self._by_code.get((exchange.upper(), stock_code.upper(), expiry.isoformat() if expiry else "", strike_text,
                                  right.lower() if right else "others"))

    @classmethod
    def load(cls, source: str, timeout: float = 120.0) -> "SecurityMaster":
        """From a URL (http, https) or a file path; OSError or ValueError when it cannot be read."""
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=timeout) as answer:  # noqa: S310 (a configured URL)
                data: bytes = answer.read()
        else:
            data = Path(source).read_bytes()
        return cls(data)
