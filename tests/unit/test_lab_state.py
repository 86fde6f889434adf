"""The lab state file: written atomically, read back identically, refused when corrupt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fks_infra.lab.errors import LabError
from fks_infra.lab.state import HostState, LabState, NetworkState, load_state, save_state

TRIXIE_TREE = "/var/cache/fks-infra/lab/debian-trixie-0123456789ab"
BOOKWORM_TREE = "/var/cache/fks-infra/lab/debian-bookworm-ba9876543210"


def _state() -> LabState:
    """A lab of two releases: core-1 on trixie, gpu-1 and edge-1 on bookworm."""
    return LabState(
        spec="core-1:core@debian:trixie,gpu-1:gpu+datastore@debian:bookworm,"
        "edge-1:bridge@debian:bookworm",
        key="/repo/.lab/id_ed25519",
        network=NetworkState(
            subnet="10.213.0.0/24", gateway="10.213.0.1", bridge="fkslab0", ip_forward_before="0"
        ),
        hosts=(
            HostState(name="core-1", roles=("core",), release="debian:trixie",
                      rootfs=TRIXIE_TREE, address="10.213.0.10",
                      netns="fkslab-core-1", veth="fl-core-1", pid=1234),
            HostState(name="gpu-1", roles=("gpu", "datastore"), release="debian:bookworm",
                      rootfs=BOOKWORM_TREE, address="10.213.0.11",
                      netns="fkslab-gpu-1", veth="fl-gpu-1"),
            HostState(name="edge-1", roles=("bridge",), release="debian:bookworm",
                      rootfs=BOOKWORM_TREE, address="10.213.0.12",
                      netns="fkslab-edge-1", veth="fl-edge-1"),
        ),
    )  # fmt: skip


def test_round_trip_is_identical(tmp_path: Path) -> None:
    path = tmp_path / "lab" / "state.json"
    save_state(path, _state())
    assert load_state(path) == _state()
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_each_host_keeps_its_own_release_and_tree(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    save_state(path, _state())
    state = load_state(path)
    assert state is not None
    assert [(h.name, h.release, h.rootfs) for h in state.hosts] == [
        ("core-1", "debian:trixie", TRIXIE_TREE),
        ("gpu-1", "debian:bookworm", BOOKWORM_TREE),
        ("edge-1", "debian:bookworm", BOOKWORM_TREE),
    ]
    assert state.releases == ("debian:trixie", "debian:bookworm")


def test_a_state_file_of_the_one_release_format_is_refused_by_its_version(
    tmp_path: Path,
) -> None:
    old = _state().model_dump(mode="json")
    old.update(version=1, release="debian:bookworm", rootfs=BOOKWORM_TREE)
    for host in old["hosts"]:
        del host["release"], host["rootfs"]
    path = tmp_path / "state.json"
    path.write_text(json.dumps(old))
    with pytest.raises(LabError, match=r"has version 1, this fks-infra reads 2.*lab down"):
        load_state(path)


def test_missing_file_means_no_lab(tmp_path: Path) -> None:
    assert load_state(tmp_path / "state.json") is None


@pytest.mark.parametrize("text", ["{", "{}", '{"version": 1, "surprise": true}'])
def test_corrupt_file_is_an_error_pointing_at_down(tmp_path: Path, text: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(LabError, match="lab down"):
        load_state(path)


def test_host_lookup_names_the_hosts_on_a_miss() -> None:
    assert _state().host("gpu-1").roles == ("gpu", "datastore")
    with pytest.raises(LabError, match="its hosts are: core-1, gpu-1, edge-1"):
        _state().host("web-1")
