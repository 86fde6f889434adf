"""A recorded two-host lab state for tests of what reads it (tables, the inventory)."""

from __future__ import annotations

from fks_infra.lab.state import HostState, LabState, NetworkState


def two_host_state() -> LabState:
    """core-1 (core, trixie) and both-1 (gpu and bridge, bookworm) on 10.213.0.0/24."""
    hosts = (
        HostState(name="core-1", roles=("core",), release="debian:trixie",
                  rootfs="/cache/debian-trixie", address="10.213.0.10",
                  netns="fkslab-core-1", veth="fl-core-1"),
        HostState(name="both-1", roles=("gpu", "bridge"), release="debian:bookworm",
                  rootfs="/cache/debian-bookworm", address="10.213.0.11",
                  netns="fkslab-both-1", veth="fl-both-1"),
    )  # fmt: skip
    return LabState(
        spec="core-1:core@debian:trixie,both-1:gpu+bridge@debian:bookworm",
        key="/repo/.lab/id_ed25519",
        network=NetworkState(
            subnet="10.213.0.0/24", gateway="10.213.0.1", bridge="fkslab0", ip_forward_before="1"
        ),
        hosts=hosts,
    )
