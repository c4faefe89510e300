"""The configuration of a gateway or publisher process: one TOML file (``--config``).

Secrets never live here: a gateway gets its broker's credentials from the engine after it has
authenticated (docs/brokers.md); the only key material named here is this process's own CURVE
key pair and the engine's public key, by file path (mode 0600, or a systemd credential).

    [engine]
    endpoint = "ipc:///run/algotrader/gateway.sock"  # the engine's gateway.bind
    curve_server_public_key_file = "/etc/algotrader/engine-gateway.pub"  # tcp:// beyond loopback
    curve_secret_key_file = "/etc/algotrader/gateway-zerodha.key"        # this process's, Z85

    [broker]
    api_type = "zerodha"            # zerodha, angel or icici
    id = "zerodha-main"             # gateway_id in hello (and the feed's src by default)
    broker_ids = ["<uuid>", ...]    # the accounts served (a feed uses the first)

    [kite]                           # api_type = "zerodha" only
    root = "https://api.kite.trade"  # Kite Connect REST
    ws_root = "wss://ws.kite.trade"  # Kite Ticker (market data and order updates)
    poll_seconds = 5.0               # gateway: the order book is read when idle this long
                                     # (the safety net under the WebSocket's order updates)
    order_updates = true             # gateway: false polls only (no KiteTicker connection)
    market_protection = -1           # gateway: sent with MARKET and SL-M orders; -1 is Kite's
                                     # automatic protection, 1-100 a percentage (Kite rejects 0)

    [angel]                          # api_type = "angel" only (Angel One SmartAPI)
    root = "https://apiconnect.angelone.in"                     # SmartAPI REST
    order_updates_url = "wss://tns.angelone.in/smart-order-update"  # order-status WebSocket
    stream_url = "wss://smartapisocket.angelone.in/smart-stream"     # publishers: SmartStream market data
    scrip_master = "https://margincalculator.angelbroking.com/OpenAPI_File/files/OpenAPIScripMaster.json"
                                     # Angel's instrument list (URL or file): symbol tokens
    poll_seconds = 5.0               # gateway: the order book is read when idle this long
    order_updates = true             # gateway: false polls only
    public_ip = ""                   # X-ClientPublicIP: the static IP registered with Angel One
    local_ip = ""                    # X-ClientLocalIP (empty: 127.0.0.1)
    mac_address = ""                 # X-MACAddress (empty: this host's)

    [icici]                          # api_type = "icici" only (ICICI Direct Breeze)
    api_url = "https://api.icicidirect.com/breezeapi/api/v1/"   # Breeze REST
    stream_url = "https://livestream.icicidirect.com"          # publishers: quotes (socket.io)
    order_feed_url = "https://livefeeds.icicidirect.com"       # gateway: order notifications (socket.io)
    security_master = "https://directlink.icicidirect.com/MotherAppMaster/SecurityMaster.zip"
                                     # ICICI's instrument list (URL or file): stock codes, tokens
    poll_seconds = 10.0              # gateway: the order book is read when idle this long
    order_updates = true             # gateway: false polls only
    exchanges = ["NSE", "BSE", "NFO"]  # gateway: the books read (Breeze's calls take one each)

    [log]
    level = "info"                   # debug, info, warning or error (stderr; never secrets)

    [feed]                           # publishers only
    publish_bind = "tcp://127.0.0.1:5555"  # a PUB the engine's market_data.connect lists
    instruments = ["NSE:INFY", "NFO:NIFTY26DECFUT"]
    stall_seconds = 10.0             # no tick nor heartbeat for this long: reconnect
    mode = "full"                    # the broker stream's detail: "full" (depth, exchange time, OI) or "quote"
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API_TYPES = ("zerodha", "angel", "icici")


class ConfigError(Exception):
    """A bad configuration, naming the key (the process exits 78, as the engine does)."""


@dataclass(frozen=True)
class EngineSection:
    endpoint: str
    curve_server_public_key_file: Path | None = None
    curve_secret_key_file: Path | None = None


@dataclass(frozen=True)
class BrokerSection:
    api_type: str
    id: str
    broker_ids: tuple[str, ...]


@dataclass(frozen=True)
class KiteSection:
    root: str = "https://api.kite.trade"
    ws_root: str = "wss://ws.kite.trade"
    poll_seconds: float = 5.0
    order_updates: bool = True
    market_protection: int = -1


@dataclass(frozen=True)
class AngelSection:
    root: str = "https://apiconnect.angelone.in"
    order_updates_url: str = "wss://tns.angelone.in/smart-order-update"
    stream_url: str = "wss://smartapisocket.angelone.in/smart-stream"
    scrip_master: str = "https://margincalculator.angelbroking.com/OpenAPI_File/files/OpenAPIScripMaster.json"
    poll_seconds: float = 5.0
    order_updates: bool = True
    public_ip: str = ""
    local_ip: str = ""
    mac_address: str = ""


@dataclass(frozen=True)
class IciciSection:
    api_url: str = "https://api.icicidirect.com/breezeapi/api/v1/"
    stream_url: str = "https://livestream.icicidirect.com"
    order_feed_url: str = "https://livefeeds.icicidirect.com"
    security_master: str = "https://directlink.icicidirect.com/MotherAppMaster/SecurityMaster.zip"
    poll_seconds: float = 10.0
    order_updates: bool = True
    exchanges: tuple[str, ...] = ("NSE", "BSE", "NFO")


ICICI_EXCHANGES = ("NSE", "BSE", "NFO", "BFO")


@dataclass(frozen=True)
class FeedSection:
    publish_bind: str = "tcp://127.0.0.1:5555"
    instruments: tuple[str, ...] = ()
    stall_seconds: float = 10.0
    mode: str = "full"


FEED_MODES = ("full", "quote")


@dataclass(frozen=True)
class ProcessConfig:
    engine: EngineSection
    broker: BrokerSection
    kite: KiteSection = field(default_factory=KiteSection)
    angel: AngelSection = field(default_factory=AngelSection)
    icici: IciciSection = field(default_factory=IciciSection)
    feed: FeedSection = field(default_factory=FeedSection)
    log_level: str = "info"


_KNOWN: dict[str, set[str]] = {
    "engine": {"endpoint", "curve_server_public_key_file", "curve_secret_key_file"},
    "broker": {"api_type", "id", "broker_ids"},
    "kite": {"root", "ws_root", "poll_seconds", "order_updates", "market_protection"},
    "angel": {"root", "order_updates_url", "stream_url", "scrip_master", "poll_seconds", "order_updates", "public_ip", "local_ip",
              "mac_address"},
    "icici": {"api_url", "stream_url", "order_feed_url", "security_master", "poll_seconds", "order_updates", "exchanges"},
    "feed": {"publish_bind", "instruments", "stall_seconds", "mode"},
    "log": {"level"},
}
LOG_LEVELS = ("debug", "info", "warning", "error")


def _string(table: dict[str, Any], section: str, key: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{section}.{key}: a non-empty string is required")
    return value


def _strings(table: dict[str, Any], section: str, key: str, required: bool) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) or (required and not value):
        raise ConfigError(f"{section}.{key}: a list of non-empty strings is required")
    return tuple(value)


def _seconds(table: dict[str, Any], section: str, key: str, default: float, low: float, high: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= float(value) <= high:
        raise ConfigError(f"{section}.{key}: a number from {low:g} to {high:g} is required")
    return float(value)


def _flag(table: dict[str, Any], section: str, key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{section}.{key}: true or false is required")
    return value


def _optional(table: dict[str, Any], section: str, key: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(f"{section}.{key}: a string is required")
    return value


def _path(table: dict[str, Any], section: str, key: str) -> Path | None:
    if key not in table:
        return None
    return Path(_string(table, section, key))


def parse(document: dict[str, Any]) -> ProcessConfig:
    """The configuration in ``document`` (a parsed TOML file); ConfigError names a bad key."""
    for section, value in document.items():
        if section not in _KNOWN:
            raise ConfigError(f"{section}: unknown section (known: {', '.join(sorted(_KNOWN))})")
        if not isinstance(value, dict):
            raise ConfigError(f"{section}: must be a table")
        for key in value:
            if key not in _KNOWN[section]:
                raise ConfigError(f"{section}.{key}: unknown key")
    engine_t: dict[str, Any] = document.get("engine", {})
    broker_t: dict[str, Any] = document.get("broker", {})
    kite_t: dict[str, Any] = document.get("kite", {})
    feed_t: dict[str, Any] = document.get("feed", {})
    angel_t: dict[str, Any] = document.get("angel", {})
    log_t: dict[str, Any] = document.get("log", {})
    icici_t: dict[str, Any] = document.get("icici", {})
    icici_exchanges = _strings(icici_t, "icici", "exchanges", required=False) or IciciSection.exchanges
    if any(e not in ICICI_EXCHANGES for e in icici_exchanges):
        raise ConfigError(f"icici.exchanges: each of them one of {', '.join(ICICI_EXCHANGES)}")
    api_url = _string(icici_t, "icici", "api_url", IciciSection.api_url)
    if not api_url.endswith("/"):
        raise ConfigError("icici.api_url: must end with / (the endpoints' names are appended)")
    api_type = _string(broker_t, "broker", "api_type")
    if api_type not in API_TYPES:
        raise ConfigError(f"broker.api_type: one of {', '.join(API_TYPES)} is required")
    stall = feed_t.get("stall_seconds", 10.0)
    if isinstance(stall, bool) or not isinstance(stall, (int, float)) or not 0.5 <= float(stall) <= 300:
        raise ConfigError("feed.stall_seconds: a number from 0.5 to 300 is required")
    poll = kite_t.get("poll_seconds", KiteSection.poll_seconds)
    if isinstance(poll, bool) or not isinstance(poll, (int, float)) or not 0.2 <= float(poll) <= 300:
        raise ConfigError("kite.poll_seconds: a number from 0.2 to 300 is required")
    order_updates = kite_t.get("order_updates", True)
    if not isinstance(order_updates, bool):
        raise ConfigError("kite.order_updates: true or false is required")
    protection = kite_t.get("market_protection", KiteSection.market_protection)
    if isinstance(protection, bool) or not isinstance(protection, int) or not (protection == -1 or 1 <= protection <= 100):
        raise ConfigError("kite.market_protection: -1 (Kite's automatic protection) or a percentage from 1 to 100 is required")
    level = _string(log_t, "log", "level", "info")
    if level not in LOG_LEVELS:
        raise ConfigError(f"log.level: one of {', '.join(LOG_LEVELS)} is required")
    mode = _string(feed_t, "feed", "mode", FeedSection.mode)
    if mode not in FEED_MODES:
        raise ConfigError(f"feed.mode: one of {', '.join(FEED_MODES)} is required")
    return ProcessConfig(
        engine=EngineSection(
            endpoint=_string(engine_t, "engine", "endpoint"),
            curve_server_public_key_file=_path(engine_t, "engine", "curve_server_public_key_file"),
            curve_secret_key_file=_path(engine_t, "engine", "curve_secret_key_file"),
        ),
        broker=BrokerSection(api_type=api_type, id=_string(broker_t, "broker", "id"),
                             broker_ids=_strings(broker_t, "broker", "broker_ids", required=True)),
        kite=KiteSection(root=_string(kite_t, "kite", "root", KiteSection.root),
                         ws_root=_string(kite_t, "kite", "ws_root", KiteSection.ws_root),
                         poll_seconds=float(poll), order_updates=order_updates, market_protection=protection),
        angel=AngelSection(root=_string(angel_t, "angel", "root", AngelSection.root),
                           order_updates_url=_string(angel_t, "angel", "order_updates_url", AngelSection.order_updates_url),
                           stream_url=_string(angel_t, "angel", "stream_url", AngelSection.stream_url),
                           scrip_master=_string(angel_t, "angel", "scrip_master", AngelSection.scrip_master),
                           poll_seconds=_seconds(angel_t, "angel", "poll_seconds", AngelSection.poll_seconds, 0.2, 300),
                           order_updates=_flag(angel_t, "angel", "order_updates", True),
                           public_ip=_optional(angel_t, "angel", "public_ip"),
                           local_ip=_optional(angel_t, "angel", "local_ip"),
                           mac_address=_optional(angel_t, "angel", "mac_address")),
        icici=IciciSection(api_url=api_url,
                           stream_url=_string(icici_t, "icici", "stream_url", IciciSection.stream_url),
                           order_feed_url=_string(icici_t, "icici", "order_feed_url", IciciSection.order_feed_url),
                           security_master=_string(icici_t, "icici", "security_master", IciciSection.security_master),
                           poll_seconds=_seconds(icici_t, "icici", "poll_seconds", IciciSection.poll_seconds, 0.5, 300),
                           order_updates=_flag(icici_t, "icici", "order_updates", True),
                           exchanges=tuple(icici_exchanges)),
        feed=FeedSection(publish_bind=_string(feed_t, "feed", "publish_bind", FeedSection.publish_bind),
                         instruments=_strings(feed_t, "feed", "instruments", required=False),
                         stall_seconds=float(stall), mode=mode),
        log_level=level,
    )


def load(path: Path) -> ProcessConfig:
    """Reads and checks the file at ``path``."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not TOML: {error}") from error
    return parse(document)
