"""The Angel One gateway process: ``python -m algotrader_brokers gateway --config FILE`` with
``broker.api_type = "angel"``. It loads Angel's scrip master (``angel.scrip_master``: the symbol
tokens every order names), connects to the engine and serves every broker id of
``broker.broker_ids`` the engine grants it with one SmartAPI adapter each (smartapi/adapter.py).

Configuration keys it reads (config.py): ``engine.*``, ``broker.id``, ``broker.broker_ids``,
``angel.root``, ``angel.order_updates_url``, ``angel.scrip_master``, ``angel.poll_seconds``,
``angel.order_updates``, ``angel.public_ip``, ``angel.local_ip``, ``angel.mac_address``,
``log.level``. Exit codes: 0 after a signal, 78 for bad CURVE key files. A scrip master that
cannot be read at start is tried again in the process (5 s, doubling to a minute) rather than
exiting: a restart loop would exhaust the unit's start limit within a minute of Angel's file
server being down, and nothing can be placed without it anyway (the engine rejects the broker's
orders with "no gateway connected" meanwhile).
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from ..adapter import BrokerAdapter, LinkSink
from ..broker_gateway import run_gateway
from ..config import ProcessConfig
from .adapter import AngelAdapter
from .scrips import ScripMaster

def load_scrips(source: str, stopping: threading.Event) -> ScripMaster | None:
    """The scrip master, tried until it loads (None: a signal came first)."""
    log = logging.getLogger(__name__)
    delay = 5.0
    while not stopping.is_set():
        try:
            scrips = ScripMaster.load(source)
            log.info("Angel One scrip master: %d instruments", scrips.count)
            return scrips
        except (OSError, ValueError) as error:
            log.error("Angel One's scrip master could not be read from %s: %s; trying again in %.0f s", source, error,
                      delay)
        stopping.wait(delay)
        delay = min(60.0, delay * 2)
    return None


def main(config: ProcessConfig) -> int:
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopping = threading.Event()

    def stop_loading(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop_loading)
    signal.signal(signal.SIGINT, stop_loading)
    scrips = load_scrips(config.angel.scrip_master, stopping)
    if scrips is None:
        return 0

    def adapter(broker_id: str, sink: LinkSink) -> BrokerAdapter:
        return AngelAdapter(broker_id, sink, config.angel, scrips)

    return run_gateway(config, adapter)
