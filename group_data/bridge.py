"""Settings of hosts in the bridge role (meta: MetaTrader 5, ninja: NinjaTrader 8)."""
