"""The package imports under the pinned SDKs."""
import algotrader_brokers
import kiteconnect


def test_the_package_and_the_kite_sdk_import() -> None:
    assert algotrader_brokers.__doc__
    from importlib.metadata import version
    assert version("kiteconnect") == "5.2.2"
    assert kiteconnect.KiteConnect and kiteconnect.KiteTicker
