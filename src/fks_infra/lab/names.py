"""Names of everything the lab creates outside its state directory.

Teardown after a crash finds leftovers by these names alone, so every kernel
object the lab makes (namespace, link, nft table) must be named here and only here.
One lab runs per machine: the names are fixed, not per checkout.
"""

from __future__ import annotations

#: The Linux bridge in the root namespace that every host's veth joins.
BRIDGE = "fkslab0"

#: Prefix of each host's network namespace (``/run/netns/fkslab-<name>``).
NETNS_PREFIX = "fkslab-"

#: Prefix of each host's veth end in the root namespace (``fl-<name>``, at most 14 chars).
VETH_PREFIX = "fl-"

#: The veth end inside a host's namespace; a fresh cloud VM's first NIC is ``eth0``.
GUEST_IFACE = "eth0"

#: nftables family and table holding the lab's NAT rules, removed as a whole on ``down``.
NFT_FAMILY = "inet"
NFT_TABLE = "fkslab"


def netns_name(host: str) -> str:
    """The network namespace of lab host ``host``."""
    return f"{NETNS_PREFIX}{host}"


def veth_name(host: str) -> str:
    """The root-namespace end of lab host ``host``'s veth pair."""
    return f"{VETH_PREFIX}{host}"


#: Prefix of each host's own cgroup in every cgroup hierarchy of this machine
#: (``fkslab-<name>``, below the cgroup the lab was started from; see ``cgroups.py``).
CGROUP_PREFIX = "fkslab-"


def cgroup_name(host: str) -> str:
    """The cgroup of lab host ``host`` (the same name in every hierarchy)."""
    return f"{CGROUP_PREFIX}{host}"
