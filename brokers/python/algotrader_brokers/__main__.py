"""``python -m algotrader_brokers gateway|feed --config FILE``: runs the gateway or the
market-data publisher of the configuration's ``broker.api_type`` (exit 78 on a bad
configuration, naming the key; 64 on a bad command line)."""
from __future__ import annotations

import argparse
import importlib
import signal
import sys
from pathlib import Path

from .config import ConfigError, load

EXIT_USAGE = 64
EXIT_CONFIG = 78
# api_type -> the package holding its gateway and feed modules (each with main(config) -> int).
PACKAGES = {"zerodha": "kite", "angel": "smartapi", "icici": "icici"}


def main(argv: list[str] | None = None) -> int:
    # A parent that started this process from a thread with signals blocked (Foundation's Process
    # run from a Dispatch worker does) leaves them blocked here, and SIGTERM would never arrive.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    parser = argparse.ArgumentParser(prog="python -m algotrader_brokers", description=__doc__)
    parser.add_argument("role", choices=("gateway", "feed"))
    parser.add_argument("--config", type=Path, required=True)
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return EXIT_USAGE if stop.code else 0
    try:
        config = load(args.config)
    except ConfigError as error:
        print(f"algotrader_brokers: bad configuration: {error}", file=sys.stderr)
        return EXIT_CONFIG
    name = f"{__package__}.{PACKAGES[config.broker.api_type]}.{args.role}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError:
        print(f"algotrader_brokers: broker.api_type: no {args.role} for {config.broker.api_type} in this release", file=sys.stderr)
        return EXIT_CONFIG
    result: int = module.main(config)
    return result


if __name__ == "__main__":
    sys.exit(main())
