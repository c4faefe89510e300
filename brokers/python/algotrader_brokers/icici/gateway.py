"""The ICICI Direct gateway process: ``python -m algotrader_brokers gateway --config FILE`` with
``broker.api_type = "icici"``. It loads ICICI's security master (``icici.security_master``: the
stock codes every order names), imports the Breeze SDK with it (sdk.py), connects to the engine
and serves every broker id of ``broker.broker_ids`` the engine grants it with one adapter each
(adapter.py).

Configuration keys it reads (config.py): ``engine.*``, ``broker.id``, ``broker.broker_ids``,
``icici.api_url``, ``icici.order_feed_url``, ``icici.security_master``, ``icici.poll_seconds``,
``icici.order_updates``, ``icici.exchanges``, ``log.level``. Exit codes: 0 after a signal, 78 for
bad CURVE key files. A security master that cannot be read at start is tried again in the process
(5 s, doubling to a minute), as the Angel One gateway does its scrip master: nothing can be placed
without it, and a restart loop would exhaust the unit's start limit.
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
from .adapter import IciciAdapter
from .sdk import import_breeze
from .securities import SecurityMaster


def load_securities(source: str, stopping: threading.Event) -> SecurityMaster | None:
    """The security master, tried until it loads (None: a signal came first)."""
    log = logging.getLogger(__name__)
    delay = 5.0
    while not stopping.is_set():
        try:
            securities = SecurityMaster.load(source)
            log.info("ICICI Direct security master: %d instruments", securities.count)
            return securities
        except (OSError, ValueError) as error:
            log.error("ICICI Direct's security master could not be read from %s: %s; trying again in %.0f s", source,
                      error, delay)
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
    securities = load_securities(config.icici.security_master, stopping)
    if securities is None:
        return 0
    sdk = import_breeze(securities.raw)

    def adapter(broker_id: str, sink: LinkSink) -> BrokerAdapter:
        return IciciAdapter(broker_id, sink, config.icici, securities, sdk)

    return run_gateway(config, adapter)
