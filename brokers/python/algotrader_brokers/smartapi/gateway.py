"""The Angel One gateway process: ``python -m algotrader_brokers gateway --config FILE`` with
``broker.api_type = "angel"``. It loads Angel's scrip master (``angel.scrip_master``: the symbol
tokens every order names), connects to the engine and serves every broker id of
``broker.broker_ids`` the engine grants it with one SmartAPI adapter each (smartapi/adapter.py).

Configuration keys it reads (config.py): ``engine.*``, ``broker.id``, ``broker.broker_ids``,
``angel.root``, ``angel.order_updates_url``, ``angel.scrip_master``, ``angel.poll_seconds``,
``angel.order_updates``, ``angel.public_ip``, ``angel.local_ip``, ``angel.mac_address``,
``log.level``. Exit codes: 0 after a signal, 78 for bad CURVE key files, 69 when the scrip master
cannot be read (nothing could be placed without it; systemd restarts the unit).
"""
from __future__ import annotations

import logging
import sys

from ..adapter import BrokerAdapter, LinkSink
from ..broker_gateway import run_gateway
from ..config import ProcessConfig
from .adapter import AngelAdapter
from .scrips import ScripMaster

EXIT_UNAVAILABLE = 69


def main(config: ProcessConfig) -> int:
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger(__name__)
    try:
        scrips = ScripMaster.load(config.angel.scrip_master)
    except (OSError, ValueError) as error:
        log.error("Angel One's scrip master could not be read from %s: %s", config.angel.scrip_master, error)
        return EXIT_UNAVAILABLE
    log.info("Angel One scrip master: %d instruments", scrips.count)

    def adapter(broker_id: str, sink: LinkSink) -> BrokerAdapter:
        return AngelAdapter(broker_id, sink, config.angel, scrips)

    return run_gateway(config, adapter)
