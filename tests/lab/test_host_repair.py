"""What an earlier run left half done is finished by the next: a firewall reload that failed
after its file went live, and a dpkg run that was interrupted. Each case breaks one host,
runs the deploy there (``--limit``), and ends with a run that changes nothing.
"""

from __future__ import annotations

import re

import pytest
from deploying import Run, deploy

from fks_infra.firewall.ruleset import RULESET_PATH, TABLE, UNIT
from fks_infra.lab.testing import Lab
from fks_infra.operations.files import pending_marker

pytestmark = pytest.mark.lab

#: A runtime drop-in standing in for an ``nft -f`` the kernel refuses: the unit's reload
#: fails, as it would with a ruleset nft accepted (``nft -c``) and the kernel did not.
BROKEN_RELOAD = f"/run/systemd/system/{UNIT}.d/zz-fks-test-broken-reload.conf"
BREAK_RELOAD = (
    f"mkdir -p {BROKEN_RELOAD.rsplit('/', 1)[0]} && printf '%s\\n' '[Service]' 'ExecReload=' "
    "'ExecReload=/bin/sh -c \"echo fks-test: nft refused the ruleset >&2; exit 1\"' "
    f"> {BROKEN_RELOAD} && systemctl daemon-reload"
)
STALE_CHAIN = "fks_test_stale"


def a_default_host(lab: Lab) -> str:
    """The last host of the lab: a small one in the default lab (bridge-1)."""
    return lab.hosts[-1].name


def changed_on(run: Run, host: str) -> list[str]:
    return [name for name, where in run.changed() if where == host]


def test_a_firewall_reload_that_failed_after_the_file_went_live_is_retried(
    lab: Lab, deployed: Run
) -> None:
    host = a_default_host(lab)
    marker = pending_marker("nftables")
    # The loaded table differs from what the file says (a chain the file lacks), and the
    # file differs from the plan: the deploy puts the file back and must reload it.
    setup = lab.ssh(
        host,
        f"nft add chain inet {TABLE} {STALE_CHAIN} && echo '# fks-test' >> {RULESET_PATH} "
        f"&& {BREAK_RELOAD}",
    )
    assert setup.returncode == 0, setup.stderr
    try:
        failed = deploy("--limit", host)
        # The host stopped at the reload (pyinfra writes no JSON when no host is left).
        assert failed.returncode != 0
        assert re.search(rf"\[{host}\]\s+Error", failed.stderr), failed.why()
        assert f"Job for {UNIT} failed" in failed.stderr, failed.why()
        after = lab.ssh(host, f"grep -c fks-test {RULESET_PATH}; stat -c '%a %U' {marker}")
        assert after.stdout.split() == ["0", "600", "root"], after.stdout + after.stderr
    finally:
        lab.ssh(host, f"rm -f {BROKEN_RELOAD} && systemctl daemon-reload")
    # The file is right now and nothing else changed: only the pending reload is left.
    assert STALE_CHAIN in lab.ssh(host, f"nft list table inet {TABLE}").stdout
    retried = deploy("--limit", host)
    assert retried.returncode == 0, retried.why()
    changed = changed_on(retried, host)
    assert [name.endswith(f"Render {RULESET_PATH}") for name in changed] == [True], changed
    assert STALE_CHAIN not in lab.ssh(host, f"nft list table inet {TABLE}").stdout
    assert lab.ssh(host, f"test -e {marker}").returncode != 0
    assert deploy("--limit", host).changed() == []


def test_an_interrupted_dpkg_is_completed_by_the_next_run(lab: Lab, deployed: Run) -> None:
    host = a_default_host(lab)
    # A package unpacked and never configured: what a dpkg killed between its two steps
    # leaves (apt then refuses to work until `dpkg --configure -a`). `less` is installed on
    # every lab host; its .deb comes from the host's own mirror into apt's cache.
    interrupt = (
        "apt-get install -q -y --reinstall --download-only less >/dev/null && "
        "dpkg --unpack /var/cache/apt/archives/less_*.deb >/dev/null && "
        "dpkg-query -W -f='${db:Status-Abbrev}' less"
    )
    unpacked = lab.ssh(host, interrupt, timeout=300)
    assert unpacked.returncode == 0, unpacked.stdout + unpacked.stderr
    assert unpacked.stdout.strip() == "iU", unpacked.stdout
    repaired = deploy("--limit", host)
    assert repaired.returncode == 0, repaired.why()
    changed = changed_on(repaired, host)
    assert [name.endswith("Install base packages") for name in changed] == [True], changed
    state = lab.ssh(host, "dpkg-query -W -f='${db:Status-Abbrev}' less; dpkg --audit")
    assert state.stdout.strip() == "ii", state.stdout + state.stderr
    assert deploy("--limit", host).changed() == []
    lab.ssh(host, "rm -f /var/cache/apt/archives/less_*.deb")
