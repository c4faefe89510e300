"""The Zerodha gateway process: ``python -m algotrader_brokers gateway --config FILE`` with
``broker.api_type = "zerodha"``. It connects to the engine (engine_link.py), serves every broker
id of ``broker.broker_ids`` the engine grants it with one Kite Connect adapter each
(kite/adapter.py), and runs until SIGTERM or SIGINT.

Configuration keys it reads (config.py): ``engine.endpoint``, ``engine.curve_server_public_key_file``
and ``engine.curve_secret_key_file`` (CURVE; both or neither), ``broker.id`` (the hello's
gateway_id), ``broker.broker_ids``, ``kite.root``, ``kite.ws_root``, ``kite.poll_seconds``,
``kite.order_updates``, ``log.level``. Kite's credentials come only in the engine's welcome.
Exit codes: 0 after a signal, 78 for bad CURVE key files (naming the key).
"""
from __future__ import annotations

import logging
import sys

from ..adapter import BrokerAdapter, LinkSink
from ..broker_gateway import run_gateway
from ..config import ProcessConfig
from .adapter import KiteAdapter


def main(config: ProcessConfig) -> int:
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # urllib3 at debug names each request's path and status only; the SDK's own request dumps
    # (headers with the access token) exist only with KiteConnect(debug=True), never set here.

    def adapter(broker_id: str, sink: LinkSink) -> BrokerAdapter:
        return KiteAdapter(broker_id, sink, config.kite)

    return run_gateway(config, adapter)
