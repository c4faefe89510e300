"""Zerodha (Kite Connect): the market-data publisher (feed.py) on the official kiteconnect SDK."""
