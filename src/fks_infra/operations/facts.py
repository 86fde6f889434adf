"""Facts of the generic operations: files, units, accounts, directories, pre-flight."""

from __future__ import annotations

import re
import shlex
from typing import Any

from pyinfra.api.facts import FactBase


class FileDigest(FactBase[dict[str, str] | None]):
    """SHA-256, mode, owner and group of a file, or None when it does not exist.

    .. code:: python

        {"sha256": "9f86d0...", "mode": "600", "user": "root", "group": "root"}
    """

    def command(self, path: str) -> str:
        quoted = "'" + path.replace("'", "'\\''") + "'"
        return f"if [ -f {quoted} ]; then stat -c '%a %U %G' {quoted} && sha256sum {quoted}; fi"

    def process(self, output: list[str]) -> dict[str, str] | None:
        if len(output) < 2:
            return None
        mode, user, group = output[0].split()
        return {"sha256": output[1].split()[0], "mode": mode, "user": user, "group": group}


class FileDigests(FactBase[dict[str, dict[str, str]]]):
    """``FileDigest`` of every regular file matching some shell patterns, in one command.

    .. code:: python

        {"/etc/fks/api.env": {"sha256": "9f86d0...", "mode": "600", "user": "root", ...}}
    """

    @staticmethod
    def default() -> dict[str, dict[str, str]]:
        """Nothing found (pyinfra gives a fact with no output its default)."""
        return {}

    def command(self, patterns: tuple[str, ...]) -> str:
        # One stat and one sha256sum for all the files: a stat and a sha256sum per file
        # cost a round of commands per file (bench/README.md has the measured gain).
        globs = " ".join(patterns)
        return (
            f'set --; for f in {globs}; do [ -f "$f" ] && set -- "$@" "$f"; done; '
            "if [ $# -gt 0 ]; then stat -c '%a %U %G %n' -- \"$@\"; echo --; "
            'sha256sum -- "$@"; fi; true'
        )

    def process(self, output: list[str]) -> dict[str, dict[str, str]]:
        modes: dict[str, list[str]] = {}
        digests: dict[str, str] = {}
        listing = output
        if "--" in output:
            split = output.index("--")
            listing, sums = output[:split], output[split + 1 :]
            # "<64 hex digits>  <path>"; a path sha256sum had to escape starts with "\"
            # and matches nothing, so that file reads as missing and is written again.
            digests = {line[66:]: line[:64] for line in sums if len(line) > 66}
        for line in listing:
            mode, user, group, path = line.split(" ", 3)
            modes[path] = [mode, user, group]
        return {
            path: {"sha256": digests[path], "mode": mode, "user": user, "group": group}
            for path, (mode, user, group) in modes.items()
            if path in digests
        }


class UnitStates(FactBase[dict[str, dict[str, str]]]):
    """The service units matching some patterns, loaded or only installed, in one read.

    ``active`` is systemd's ActiveState (from ``list-units``), ``enabled`` the unit file's
    state (from ``list-unit-files``); a unit missing from one listing has no such key.

    .. code:: python

        {"fks-api.service": {"active": "active", "enabled": "enabled"},
         "nftables.service": {"active": "active", "enabled": "enabled"}}
    """

    @staticmethod
    def default() -> dict[str, dict[str, str]]:
        """Nothing found (pyinfra gives a fact with no output its default)."""
        return {}

    def command(self, patterns: tuple[str, ...]) -> str:
        # Patterns keep it fast: list-unit-files of every unit is slow (bench/README.md).
        named = " ".join(shlex.quote(pattern) for pattern in patterns)
        listing = f"--all --plain --no-legend --full --type=service {named}"
        return f"systemctl list-units {listing}; echo --; systemctl list-unit-files {listing}"

    def process(self, output: list[str]) -> dict[str, dict[str, str]]:
        states: dict[str, dict[str, str]] = {}
        unit_files = False
        for line in output:
            fields = line.split()
            if fields == ["--"]:
                unit_files = True
            elif unit_files and len(fields) >= 2:
                states.setdefault(fields[0], {})["enabled"] = fields[1]
            elif len(fields) >= 4:  # UNIT LOAD ACTIVE SUB DESCRIPTION...
                states.setdefault(fields[0], {})["active"] = fields[2]
        return states


class DirectoryModes(FactBase[dict[str, tuple[str, str]]]):
    """Mode and owner of those of some paths that are directories: {path: (mode, owner)}.

    A path that is a symbolic link to a directory (an install root moved to another disk,
    ``/opt/fks -> /srv/fks``) reports its directory's mode and owner (``stat -L``), as
    ``install -d`` would change them: a link's own mode (0777) would never converge.
    """

    @staticmethod
    def default() -> dict[str, tuple[str, str]]:
        """Nothing found (pyinfra gives a fact with no output its default)."""
        return {}

    def command(self, paths: tuple[str, ...]) -> str:
        names = " ".join(shlex.quote(path) for path in paths)
        return f'for d in {names}; do [ -d "$d" ] && stat -L -c \'%n %a %U\' "$d"; done; true'

    def process(self, output: list[str]) -> dict[str, tuple[str, str]]:
        found = {}
        for line in output:
            path, mode, owner = line.rsplit(" ", 2)
            found[path] = (mode, owner)
        return found


class Preflight(FactBase[dict[str, int]]):
    """Free space of / (MiB) and the host's clock (Unix seconds), for the pre-flight check."""

    def command(self) -> str:
        return "df --output=avail -m / | tail -n 1; date +%s"

    def process(self, output: list[str]) -> dict[str, int]:
        return {"free_mib": int(output[0].strip()), "clock": int(output[1].strip())}


class Listeners(FactBase[list[dict[str, Any]]]):
    """The host's listening TCP sockets and the processes holding them, for the pre-flight.

    From ``ss -Htlnp`` (address, port, pids) and, per pid, ``/proc/<pid>`` (owner, the
    unified or ``name=systemd`` cgroup path, command line). One entry per socket and process;
    a socket whose process this login cannot see (not root) has pid 0 and empty fields.

    .. code:: python

        [{"address": "10.0.0.2", "port": 8000, "pid": 812, "user": "root",
          "cgroup": "/system.slice/foreign-x.service",
          "command": "python3 -m http.server 8000 --bind 10.0.0.2"}]
    """

    @staticmethod
    def default() -> list[dict[str, Any]]:
        """Nothing listens, or ``ss`` is missing (pyinfra gives no output its default)."""
        return []

    def command(self) -> str:
        # One ss: the pids read from /proc below are those of the sockets listed above.
        return (
            "out=$(ss -Htlnp 2>/dev/null); printf '%s\\n' \"$out\"; echo --; "
            "for pid in $(printf '%s\\n' \"$out\" | grep -o 'pid=[0-9]*' | cut -d= -f2 | "
            "sort -un); do "
            'printf \'%s\\t%s\\t%s\\t\' "$pid" "$(stat -c %U /proc/$pid 2>/dev/null)" '
            "\"$(grep -E -m 1 '^[0-9]+:(name=systemd)?:' /proc/$pid/cgroup 2>/dev/null | "
            'cut -d: -f3-)"; '
            "tr '\\000\\t\\n' '   ' </proc/$pid/cmdline 2>/dev/null; echo; done; true"
        )

    def process(self, output: list[str]) -> list[dict[str, Any]]:
        split = output.index("--") if "--" in output else len(output)
        processes: dict[int, tuple[str, str, str]] = {}
        for line in output[split + 1 :]:
            fields = line.split("\t", 3)
            if len(fields) == 4 and fields[0].isdigit():
                processes[int(fields[0])] = (fields[1], fields[2], fields[3].strip())
        found = []
        for line in output[:split]:
            fields = line.split()
            if len(fields) < 5 or fields[0] != "LISTEN":
                continue
            host, _, port = fields[3].rpartition(":")
            address = host.strip("[]").split("%")[0]
            holders = [int(pid) for pid in re.findall(r",pid=(\d+),", " ".join(fields[5:]))]
            for pid in holders or [0]:
                user, cgroup, command = processes.get(pid, ("", "", ""))
                found.append(
                    {"address": address, "port": int(port), "pid": pid, "user": user,
                     "cgroup": cgroup, "command": command}
                )  # fmt: skip
        return found
