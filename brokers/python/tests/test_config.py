"""The process configuration: defaults, and a bad key named."""
from pathlib import Path

import pytest

from algotrader_brokers.__main__ import main
from algotrader_brokers.config import ConfigError, parse

MINIMAL = {"engine": {"endpoint": "tcp://127.0.0.1:5558"},
           "broker": {"api_type": "zerodha", "id": "kite-1", "broker_ids": ["b1"]}}


def test_a_minimal_file_gets_kites_documented_endpoints_and_feed_defaults() -> None:
    config = parse(MINIMAL)
    assert config.kite.root == "https://api.kite.trade"
    assert config.kite.ws_root == "wss://ws.kite.trade"
    assert config.feed.stall_seconds == 10.0
    assert config.broker.broker_ids == ("b1",)
    assert (config.kite.poll_seconds, config.kite.order_updates, config.log_level) == (5.0, True, "info")


@pytest.mark.parametrize("document, key", [
    ({**MINIMAL, "kite": {"rooot": "x"}}, "kite.rooot"),
    ({**MINIMAL, "kyte": {}}, "kyte: unknown section"),
    ({**MINIMAL, "broker": {"api_type": "upstox", "id": "x", "broker_ids": ["b"]}}, "broker.api_type"),
    ({**MINIMAL, "broker": {"api_type": "zerodha", "id": "x", "broker_ids": []}}, "broker.broker_ids"),
    ({**MINIMAL, "feed": {"stall_seconds": 0}}, "feed.stall_seconds"),
    ({"broker": MINIMAL["broker"]}, "engine.endpoint"),
    ({**MINIMAL, "kite": {"poll_seconds": 0}}, "kite.poll_seconds"),
    ({**MINIMAL, "kite": {"order_updates": "yes"}}, "kite.order_updates"),
    ({**MINIMAL, "kite": {"market_protection": 0}}, "kite.market_protection"),
    ({**MINIMAL, "kite": {"market_protection": 101}}, "kite.market_protection"),
    ({**MINIMAL, "kite": {"market_protection": "auto"}}, "kite.market_protection"),
    ({**MINIMAL, "log": {"level": "verbose"}}, "log.level"),
])
def test_a_bad_configuration_names_the_key(document: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse(document)


def test_the_command_exits_78_on_a_bad_file_and_64_on_a_bad_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[engine]\nendpoint = "tcp://127.0.0.1:1"\n[broker]\napi_type = "zerodha"\nid = "x"\nbroker_ids = []\n')
    assert main(["gateway", "--config", str(bad)]) == 78
    assert "broker.broker_ids" in capsys.readouterr().err
    assert main(["nonsense", "--config", str(bad)]) == 64


def test_the_gateway_exits_78_naming_a_curve_key_file_it_cannot_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "gw.toml"
    config.write_text(f'[engine]\nendpoint = "tcp://127.0.0.1:1"\ncurve_server_public_key_file = "{tmp_path}/none.pub"\n'
                      f'curve_secret_key_file = "{tmp_path}/none.key"\n'
                      '[broker]\napi_type = "zerodha"\nid = "x"\nbroker_ids = ["b1"]\n')
    assert main(["gateway", "--config", str(config)]) == 78
    assert "engine.curve_" in capsys.readouterr().err
