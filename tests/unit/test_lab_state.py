"""The lab state file: written atomically, read back identically, refused when corrupt."""

from __future__ import annotations

from pathlib import Path

import pytest

from fks_infra.lab.errors import LabError
from fks_infra.lab.state import HostState, LabState, NetworkState, load_state, save_state


def _state() -> LabState:
    return LabState(
        spec="core-1:core,gpu-1:gpu+datastore",
        release="debian:bookworm",
        rootfs="/var/cache/fks-infra/lab/debian-bookworm-0123456789ab",
        key="/repo/.lab/id_ed25519",
        network=NetworkState(
            subnet="10.213.0.0/24", gateway="10.213.0.1", bridge="fkslab0", ip_forward_before="0"
        ),
        hosts=(
            HostState(name="core-1", roles=("core",), address="10.213.0.10",
                      netns="fkslab-core-1", veth="fl-core-1", pid=1234),
            HostState(name="gpu-1", roles=("gpu", "datastore"), address="10.213.0.11",
                      netns="fkslab-gpu-1", veth="fl-gpu-1"),
        ),
    )  # fmt: skip


def test_round_trip_is_identical(tmp_path: Path) -> None:
    path = tmp_path / "lab" / "state.json"
    save_state(path, _state())
    assert load_state(path) == _state()
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


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
    with pytest.raises(LabError, match="its hosts are: core-1, gpu-1"):
        _state().host("web-1")
