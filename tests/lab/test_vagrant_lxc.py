"""Vagrant for real: one all-in-one machine up through vagrant-lxc, deployed twice, verified,
destroyed with nothing left behind (containers, bridge, nft table).

The machine boots the box built here from the lab's cached rootfs
(``fks_infra.vagrant.boxes``); pyinfra reaches it through ``inventory/vagrant.py``, that is
through ``vagrant ssh-config``, as the ``vagrant`` user with sudo. It does not use the
nspawn lab and may run beside it: names, subnet and nft table differ.
"""

from __future__ import annotations

import subprocess
import time

import pytest
from deploying import BIN, REPO, deploy

from fks_infra.vagrant.session import INVENTORY, leftovers, lxc_session

#: All deploy roles on one machine, on the default release (Debian 12): the leanest machine
#: that still runs the whole stack; the per-release coverage is the nspawn lab's.
HOSTS = "aio-1:core+gpu+bridge"

pytestmark = pytest.mark.lab


def test_vagrant_lxc_machine_deploys_once_verifies_and_leaves_nothing() -> None:
    timings: dict[str, float] = {}
    started = time.monotonic()
    with lxc_session(HOSTS, report=print) as session:
        timings["up"] = time.monotonic() - started
        ssh_config = subprocess.run(
            ["vagrant", "ssh-config"], cwd=REPO, env=session.env, capture_output=True,
            text=True, timeout=120, check=True,
        ).stdout  # fmt: skip
        assert f"HostName {session.network.prefix}.10" in ssh_config
        assert "User vagrant" in ssh_config

        init = subprocess.run(
            [str(BIN / "fks-infra"), "secrets", "init", INVENTORY], cwd=REPO, env=session.env,
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert init.returncode == 0, init.stderr

        first = deploy(inventory=INVENTORY, env=session.env)
        timings["first deploy"] = first.seconds
        assert first.returncode == 0, first.why()
        assert first.changed(), "the first deploy on a fresh box changed nothing"

        second = deploy(inventory=INVENTORY, env=session.env)
        timings["second deploy"] = second.seconds
        assert second.returncode == 0, second.why()
        assert second.changed() == []

        verify = subprocess.run(
            [str(BIN / "fks-infra"), "verify", INVENTORY], cwd=REPO, env=session.env,
            capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        assert verify.returncode == 0, verify.stdout[-4000:] + verify.stderr[-2000:]
        destroy_started = time.monotonic()
    timings["destroy"] = time.monotonic() - destroy_started
    print("vagrant lxc timings (s):", {k: round(v) for k, v in timings.items()})
    assert leftovers() == []
