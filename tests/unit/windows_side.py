"""Endpoint settings of the Windows side for test inventories with bridge hosts.

Every host running meta or ninja must name them (there are no defaults); test specs merge
these so tests about other things plan without them. Addresses are documentation ones.
"""

from __future__ import annotations

from typing import Any

ENDPOINTS: dict[str, Any] = {
    "fks_ninjatrader_host": "192.0.2.200",
    "fks_ninjatrader_port": 36973,
    "fks_mt5_bridge_url": "http://192.0.2.200:18080/",
}
