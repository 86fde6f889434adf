"""A CIS-hardened host (lab host option ``cis``: umask 027 for logins and sudo; /tmp, /var/tmp
and /dev/shm nodev,nosuid,noexec) gets exactly what a default host gets from fks-infra.

The default lab's core-1 is such a host, so the whole lab suite (deploy, second run, verify,
rollbacks, faults) runs on it; here: its settings are really in effect, and every mode and
owner fks-infra leaves on it is what it leaves on the default hosts.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from deploying import Run, fks_infra

from fks_infra.lab.testing import Lab
from fks_infra.paths import ENV_DIR, INSTALL_ROOT, LIB_DIR, LOCK_DIR, MANAGED_FILES, STATE_DIR

pytestmark = pytest.mark.lab

#: Directories fks-infra owns, listed whole; each managed file (``MANAGED_FILES``) besides.
ROOTS = (INSTALL_ROOT, ENV_DIR, STATE_DIR, LIB_DIR, LOCK_DIR, "/etc/fks-infra", "/etc/nginx/fks",
         "/etc/nginx/tls")  # fmt: skip
#: Transient or per-operator: a run's staging and candidates, pending activations.
SKIPPED = re.compile(rf"^{STATE_DIR}/(staging/|candidates|uploads/|[^/]+\.pending$)")
#: Trees where every directory is 0755 root's and every file readable by all, root's: what the
#: services' users must read (releases, venvs) and operators' tools (Grafana's files); the
#: uploaded release tarballs (``artifacts/``) are root's alone.
PUBLIC_TREES = (INSTALL_ROOT, LIB_DIR, "/etc/fks-infra", "/etc/nginx/fks")
PRIVATE = "/artifacts/ARTIFACT"

LISTING = (
    f"find {' '.join(ROOTS)} -printf '%y %m %u %g %p\\n' 2>/dev/null; "
    f"find {' '.join(MANAGED_FILES)} -maxdepth 0 -printf '%y %m %u %g %p\\n' 2>/dev/null; true"
)


def cis_hosts(lab: Lab) -> list[str]:
    hosts = [host.name for host in lab.hosts if "cis" in host.options]
    if not hosts:
        pytest.skip(
            "no lab host has the cis option (FKS_LAB_HOSTS names none; the default lab's "
            "core-1 has it)"
        )
    return hosts


def default_hosts(lab: Lab) -> list[str]:
    return [host.name for host in lab.hosts if "cis" not in host.options]


def normal(path: str) -> str:
    """``path`` with what differs between hosts by design (service, release, artifact and
    Python version) replaced by a placeholder."""
    path = re.sub(rf"^{INSTALL_ROOT}/[^/]+", f"{INSTALL_ROOT}/SERVICE", path)
    path = re.sub(r"/releases/[^/]+", "/releases/RELEASE", path)
    path = re.sub(r"/artifacts/[^/]+", "/artifacts/ARTIFACT", path)
    path = re.sub(r"python3\.\d+", "python3.X", path)
    path = re.sub(rf"^{ENV_DIR}/[^/]+\.env$", f"{ENV_DIR}/SERVICE.env", path)
    return re.sub(rf"^{STATE_DIR}/deployed/[^/]+$", f"{STATE_DIR}/deployed/SERVICE", path)


def listing(lab: Lab, host: str) -> dict[str, set[str]]:
    """Normalized path -> the ``type mode user group`` of each path under ``ROOTS`` and of
    each managed file on ``host`` (a service's user ``fks-<name>`` as ``fks-SERVICE``)."""
    done = lab.ssh(host, LISTING, timeout=300)
    assert done.returncode == 0, done.stderr
    found: dict[str, set[str]] = defaultdict(set)
    for line in done.stdout.splitlines():
        kind, mode, user, group, path = line.split(" ", 4)
        if SKIPPED.match(path):
            continue
        owner = " ".join(re.sub(r"^fks-\w+$", "fks-SERVICE", name) for name in (user, group))
        found[normal(path)].add(f"{kind} {mode} {owner}")
    return found


def login_umasks(lab: Lab, host: str) -> list[str]:
    """The umask of an SSH session, of a login shell and of a command through sudo."""
    plain = fks_infra("lab", "ssh", host, "--", "umask; bash -lc umask")  # the operator's
    return [*plain.stdout.split(), lab.ssh(host, "umask").stdout.strip()]


def test_the_cis_settings_are_in_effect_on_the_cis_host_only(lab: Lab, deployed: Run) -> None:
    for host in cis_hosts(lab):
        assert login_umasks(lab, host) == ["0027", "0027", "0027"], host
        for directory in ("/tmp", "/var/tmp", "/dev/shm"):
            options = lab.ssh(host, f"findmnt -no OPTIONS {directory}").stdout.strip().split(",")
            assert {"nodev", "nosuid", "noexec"} <= set(options), (host, directory, options)
    for host in default_hosts(lab):  # the comparison below compares something
        # Debian 13's pam_umask gives a user in their own group 0002; sudo makes it 0022.
        umasks = login_umasks(lab, host)
        assert umasks[-1] == "0022" and "0027" not in umasks, (host, umasks)


def test_fks_infra_leaves_the_same_modes_and_owners_as_on_a_default_host(
    lab: Lab, deployed: Run
) -> None:
    others = default_hosts(lab)
    if not others:
        pytest.skip("the lab has no default host to compare the cis host with")
    reference: dict[str, set[str]] = defaultdict(set)
    for host in others:
        for path, seen in listing(lab, host).items():
            reference[path] |= seen
    for host in cis_hosts(lab):
        found = listing(lab, host)
        common = sorted(set(found) & set(reference))
        differ = {path: (found[path], reference[path]) for path in common
                  if not found[path] <= reference[path]}  # fmt: skip
        assert differ == {}, f"{host} (cis) vs {', '.join(others)}: {differ}"
        # Enough in common to mean something: fks-infra's own files and the release trees.
        assert len(common) > 200, common
        for path in (f"{INSTALL_ROOT}/SERVICE/releases/RELEASE/venv/bin/python3",
                     f"{LIB_DIR}/fks-rollout", "/etc/fks-infra/firewall.nft"):  # fmt: skip
            assert path in common, path
        # What only this host has follows the same rules: public trees readable by all.
        for path, seen in found.items():
            if path.startswith(PUBLIC_TREES) and not path.endswith(PRIVATE):
                for entry in seen:
                    kind, mode, user, group = entry.split()
                    if kind == "d":
                        assert (mode, user, group) == ("755", "root", "root"), (path, entry)
                    elif kind == "f":
                        assert int(mode, 8) & 0o644 == 0o644 and not int(mode, 8) & 0o022, (
                            path,
                            entry,
                        )
                        assert (user, group) == ("root", "root"), (path, entry)
