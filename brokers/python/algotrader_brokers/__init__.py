"""Broker gateways and market-data publishers for algotrader, each on its broker's official SDK."""
