"""Every program the tests run comes from a Debian package that ``scripts/install-deps``
installs, or that every Debian has: on a fresh machine ``make test`` checks, it does not skip.

The programs are read from the test sources themselves (``programs.py``), so a test that
starts running a new program fails here until ``PACKAGES`` says which package brings it and
install-deps installs that package. The package list is read from install-deps itself.
"""

from __future__ import annotations

import functools
import re
import shlex
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest
from checkers import run, tool, unavailable
from programs import Report, scan

REPO = Path(__file__).resolve().parents[2]
INSTALL_DEPS = REPO / "scripts/install-deps"

#: Program -> the Debian (bookworm) package that ships it, for each program the tests run.
PACKAGES = {
    "amtool": "prometheus-alertmanager",
    "apt-cache": "apt",
    "apt-config": "apt",
    "chronyd": "chrony",
    "flock": "util-linux",
    "initdb": "postgresql-15",
    "ip": "iproute2",
    "mkdir": "coreutils",
    "mount": "mount",
    "nft": "nftables",
    "nginx": "nginx",
    "openssl": "openssl",
    "pg_ctl": "postgresql-15",
    "postgres": "postgresql-15",
    "prometheus-blackbox-exporter": "prometheus-blackbox-exporter",
    "promtool": "prometheus",
    "psql": "postgresql-client-15",
    "python3": "python3",
    "redis-cli": "redis-tools",
    "redis-server": "redis-server",
    "runuser": "util-linux",
    "sh": "dash",
    "sha256sum": "coreutils",
    "sleep": "coreutils",
    "ssh-keygen": "openssh-client",
    "sshd": "openssh-server",
    "systemd-analyze": "systemd",
    "unshare": "util-linux",
    "vagrant": "vagrant",
    # This file's own checks.
    "dpkg-query": "dpkg",
}

#: Priority "required": debootstrap's smallest Debian has them, so install-deps need not.
EVERY_DEBIAN = {"apt", "coreutils", "dash", "dpkg", "grep", "mount", "sed", "util-linux"}


class Computed(NamedTuple):
    """What an argv whose program the source computes runs, and the packages that needs."""

    runs: str
    packages: tuple[str, ...] = ()


VENV_SCRIPT = Computed("a console script of this venv (pyproject.toml's dependencies)")
#: Source text of a computed program (as programs.py reports it) -> what it is.
COMPUTED = {
    "sys.executable": Computed("this venv's Python"),
    "str(FKS_INFRA)": VENV_SCRIPT,
    "str(BIN / tool)": VENV_SCRIPT,
    "str(BIN / 'fks-infra')": VENV_SCRIPT,
    "str(BIN / 'pyinfra')": VENV_SCRIPT,
    "str(pyinfra_bin)": VENV_SCRIPT,
    "host_file(CHECK_POSTGRES)": Computed(
        "files/.../check-postgres-config: runuser, initdb, pg_ctl, sed, coreutils",
        ("postgresql-15", "util-linux", "sed", "coreutils"),
    ),
    "host_file(CHECK_REDIS)": Computed(
        "files/.../check-redis-config: timeout, redis-server, grep",
        ("redis-server", "coreutils", "grep"),
    ),
    "command": Computed("sshd.candidate_check: the deploy's `sshd -t` line", ("openssh-server",)),
    "fact.command(**kwargs)": Computed("FileDigest(s)' stat and sha256sum", ("coreutils",)),
    "step": Computed(
        "a demo release's install: `python3 -m venv`, then its pip", ("python3-venv",)
    ),
    "list(release.command_for('127.0.0.1', port or 0))": Computed(
        "a demo release's start command: its venv's uvicorn, or its Rust binary"
    ),
    "str(host_dir / program)": Computed("a demo release's task program"),
    "'python3'": Computed(
        "python3 on PATH, asked its version (what a demo release's install runs)", ("python3",)
    ),
    "f'python{version}'": Computed(
        "python3.X on PATH, where present: a target's Python for its demo release (else skipped)"
    ),
    "found": Computed("python3.X on PATH or from pyenv, asked its version (else skipped)"),
    "runlock.lock_script(str(directory))": Computed(
        "the run lock's shell script (flock, stat, readlink, tr, cut)", ("util-linux", "coreutils")
    ),
    "lab.ssh_argv(host.name, f'sudo -n sh -c {shlex.quote(command)}', known_hosts=known_hosts)": (
        Computed(
            "ssh to a lab host, its key checked against a given known_hosts", ("openssh-client",)
        )
    ),
    "lab.ssh_argv(HOST, f'sudo -n flock {LOCK_FILE} cat')": Computed(
        "ssh to a lab host, holding its run lock there", ("openssh-client",)
    ),
    "command.get_raw_value()": Computed(
        "pyinfra's FindInFile line for the resolvers in resolv.conf (grep)", ("grep",)
    ),
    "Listeners().command()": Computed(
        "the pre-flight's Listeners fact (ss, grep, cut, stat, tr)",
        ("iproute2", "grep", "coreutils"),
    ),
    "DirectoryModes().command(paths=(link,))": Computed(
        "the DirectoryModes fact's stat line", ("coreutils",)
    ),
    "command[command.index('--') + 1:]": Computed(
        "the task argv the fake systemd-run runs: a script the test wrote"
    ),
}


def install_deps_packages() -> set[str]:
    """What install-deps installs: its ``packages=(...)`` list and each ``packages+=(...)``."""
    text = INSTALL_DEPS.read_text()
    listed = re.search(r"^packages=\((.*?)^\)$", text, re.MULTILINE | re.DOTALL)
    assert listed, f"no packages=( ... ) list in {INSTALL_DEPS}"
    bodies = [listed[1], *re.findall(r"^\s*packages\+=\((.*?)\)", text, re.MULTILINE)]
    words = {word for body in bodies for word in shlex.split(body, comments=True)}
    return words - {"$@"}


def install_deps_daemons() -> dict[str, str]:
    """install-deps' ``daemons`` map: package -> the unit it keeps stopped."""
    text = INSTALL_DEPS.read_text()
    body = re.search(r"^declare -A daemons=\((.*?)^\)$", text, re.MULTILINE | re.DOTALL)
    assert body, f"no daemons=( ... ) map in {INSTALL_DEPS}"
    return dict(re.findall(r"^\s*\[([^]]+)\]=(\S+)", body[1], re.MULTILINE))


@functools.cache
def report() -> Report:
    """What the test sources run (read once per session)."""
    return scan(REPO / "tests", REPO)


def test_every_program_the_tests_run_has_a_package() -> None:
    missing = {f.name: f.where for f in report().programs if f.name not in PACKAGES}
    assert not missing, (
        f"the tests run programs with no package in PACKAGES: {missing}; add each with its "
        f"Debian package, and the package to {INSTALL_DEPS.name}"
    )


def test_every_program_the_sources_compute_is_explained() -> None:
    unexplained = {f.name: f.where for f in report().unresolved if f.name not in COMPUTED}
    assert not unexplained, f"say in COMPUTED what these run: {unexplained}"


def test_the_tables_name_only_what_the_tests_run() -> None:
    stale = set(PACKAGES) - {f.name for f in report().programs}
    assert not stale, f"no test runs these any more: drop them from PACKAGES: {stale}"
    stale = set(COMPUTED) - {f.name for f in report().unresolved}
    assert not stale, f"no test computes these any more: drop them from COMPUTED: {stale}"


def test_install_deps_installs_every_package_not_on_every_debian() -> None:
    needed = set(PACKAGES.values()).union(*(c.packages for c in COMPUTED.values()))
    missing = needed - install_deps_packages() - EVERY_DEBIAN
    assert not missing, f"the tests need packages {INSTALL_DEPS.name} does not install: {missing}"


def test_every_daemon_install_deps_keeps_stopped_is_of_a_package_it_installs() -> None:
    daemons = install_deps_daemons()
    # The checkers' packages start a server on installation; none may run on this machine.
    assert {"nginx", "openssh-server", "chrony", "redis-server"} <= set(daemons)
    assert set(daemons) - install_deps_packages() == set(), "a package name is misspelt"


def test_every_debian_has_the_packages_install_deps_leaves_out() -> None:
    listed = run([tool("dpkg-query"), "-W", "-f=${Package} ${Priority}\n", *EVERY_DEBIAN])
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.splitlines()) == {f"{name} required" for name in EVERY_DEBIAN}


def owners(program: str) -> set[str]:
    """The installed packages that ship a file ``.../bin/PROGRAM`` (or ``.../sbin/...``)."""
    found = run([tool("dpkg-query"), "-S", f"*bin/{program}"])
    return {
        name.strip().split(":")[0]
        for line in found.stdout.splitlines()
        if not line.startswith("diversion ")
        for name in line.split(": ", 1)[0].split(",")
    }


def dependencies(package: str) -> set[str]:
    listed = run([tool("dpkg-query"), "-W", "-f=${Pre-Depends}, ${Depends}", package])
    return {
        part.split()[0].split(":")[0] for part in re.split(r"[,|]", listed.stdout) if part.strip()
    }


@pytest.mark.parametrize("program", sorted(PACKAGES))
def test_the_package_ships_the_program(program: str) -> None:
    """Asks dpkg, so that the table is not taken on its own word. A program may come from
    a package the named one pulls in (python3's /usr/bin/python3 is python3-minimal's)."""
    package = PACKAGES[program]
    shipped_by = owners(program)
    if not shipped_by:
        unavailable(f"{program} is not installed here (Debian package {package})")
    assert shipped_by & ({package} | dependencies(package)), f"{program} is in {shipped_by}"


# --- programs.py reads what a test runs ------------------------------------------------------


def test_a_program_is_found_however_a_test_runs_it(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text(
        textwrap.dedent(
            """
            import shutil, subprocess
            def tool(name, path=""):
                return shutil.which(name, path=path or None) or ""
            def run(argv, **kwargs):
                return subprocess.run(argv, check=False, **kwargs)
            def quiet(argv):
                return run(argv, capture_output=True)
            """
        )
    )
    (tmp_path / "test_new.py").write_text(
        textwrap.dedent(
            """
            import subprocess, sys
            import helper
            from helper import quiet, tool
            AS_USER = ["runuser", "-u", "nobody", "--"]
            def test_it():
                quiet([tool("frob"), "-x"])
                subprocess.Popen(["/usr/sbin/zap", "-q"])
                helper.run([*AS_USER, f"{sys.prefix}/bin/quux"])
                quiet(["sh", "-c", "mount x && FOO=1 blip -q 2>/dev/null | grep y; exec $0"])
                checked = subprocess.check_output
                checked([sys.executable, "-V"])
                subprocess.run("wibble --now", shell=True)
            """
        )
    )
    read = scan(tmp_path, tmp_path)
    found = {(f.name, f.where) for f in read.programs}
    assert {name for name, _ in found} == {
        "frob", "zap", "runuser", "quux", "sh", "mount", "blip", "grep", "wibble"
    }  # fmt: skip
    assert ("frob", "test_new.py:7") in found
    assert [(f.name, f.where) for f in read.unresolved] == [("sys.executable", "test_new.py:12")]
