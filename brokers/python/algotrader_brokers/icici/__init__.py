"""ICICI Direct Breeze (api_type icici): the gateway (gateway.py, adapter.py) and the market-data
publisher (feed.py), on the official SDK breeze-connect made safe by sdk.py."""
