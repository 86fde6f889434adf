"""Facts fks-infra reads from a host: one short command each, no side effects."""

from __future__ import annotations

import json
import shlex

from pyinfra.api.facts import FactBase

#: Where fks-infra records the hash of the arguments of the last successful ``tailscale up``.
TAILSCALE_UP_HASH = "/var/lib/fks-infra/tailscale-up.sha256"
#: Where the auth key lives for the length of one ``tailscale up`` (root-only).
TAILSCALE_AUTHKEY_FILE = "/var/lib/fks-infra/tailscale-authkey"


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
        # took 0.22 s for the ~80 files of a core host, this takes 0.03 s.
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


class DeployedServices(FactBase[dict[str, str]]):
    """What fks-infra left on the host: {service: deployment id ('' if unknown)}.

    A service counts as installed when its unit file, env file or install directory
    exists; the deployment id is what fks-rollout recorded after a healthy start.
    """

    @staticmethod
    def default() -> dict[str, str]:
        """Nothing found (pyinfra gives a fact with no output its default)."""
        return {}

    def command(self) -> str:
        return (
            "for p in /etc/systemd/system/fks-*.service /etc/fks/*.env /opt/fks/*/; do "
            '[ -e "$p" ] && echo "present $p"; done; '
            "for f in /var/lib/fks-infra/deployed/*; do "
            '[ -f "$f" ] && echo "deployed ${f##*/} $(cat "$f")"; done; true'
        )

    def process(self, output: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in output:
            kind, rest = line.split(" ", 1)
            if kind == "present":
                name = rest.rstrip("/").rsplit("/", 1)[-1]
                name = name.removeprefix("fks-").removesuffix(".service").removesuffix(".env")
                found.setdefault(name, "")
            elif kind == "deployed":
                name, _, deploy_id = rest.partition(" ")
                found[name] = deploy_id
        return found


class TailscaleNode(FactBase[dict[str, object]]):
    """What ``tailscale up`` needs to know of a node: its state and the recorded arguments.

    .. code:: python

        {"backend_state": "Running", "up_sha256": "3f1c...", "authkey_left": False}

    ``backend_state`` is ``tailscale status --json``'s BackendState (Running, NeedsLogin,
    Stopped, ...), ``NotInstalled`` without the binary, ``Unknown`` when the daemon does not
    answer. ``authkey_left`` says an auth key file outlived an interrupted run.
    """

    def command(self) -> str:
        return (
            f'[ -f {TAILSCALE_UP_HASH} ] && echo "up-sha256 $(cat {TAILSCALE_UP_HASH})"; '
            f"[ -e {TAILSCALE_AUTHKEY_FILE} ] && echo authkey-left; "
            "if command -v tailscale >/dev/null 2>&1; then "
            "tailscale status --json --peers=false 2>/dev/null || echo unknown; "
            "else echo not-installed; fi; true"
        )

    def process(self, output: list[str]) -> dict[str, object]:
        node: dict[str, object] = {"backend_state": "Unknown", "up_sha256": None}
        node["authkey_left"] = "authkey-left" in output
        status: list[str] = []
        for line in output:
            if line.startswith("up-sha256 "):
                node["up_sha256"] = line.split(" ", 1)[1].strip() or None
            elif line == "not-installed":
                node["backend_state"] = "NotInstalled"
            elif line != "authkey-left" and line != "unknown":
                status.append(line)
        if status:
            try:
                parsed = json.loads("\n".join(status))
            except ValueError:
                parsed = {}
            state = parsed.get("BackendState") if isinstance(parsed, dict) else None
            node["backend_state"] = state if isinstance(state, str) else "Unknown"
        return node


class SshdPorts(FactBase[list[int]]):
    """The TCP ports sshd's effective config listens on (``sshd -T``), empty if unknown."""

    @staticmethod
    def default() -> list[int]:
        return []

    def command(self) -> str:
        return "sshd -T 2>/dev/null | awk '$1 == \"port\" {print $2}'; true"

    def process(self, output: list[str]) -> list[int]:
        return sorted({int(line) for line in output if line.strip().isdigit()})


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
        # Patterns keep it fast: list-unit-files of every unit takes ~0.5 s, of ours ~0.03 s.
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


class Account(FactBase[dict[str, list[str]]]):
    """The ``getent`` entries of one group and one user: {"group": [...], "passwd": [...]}."""

    @staticmethod
    def default() -> dict[str, list[str]]:
        """Nothing found (pyinfra gives a fact with no output its default)."""
        return {}

    def command(self, account: str) -> str:
        quoted = shlex.quote(account)
        return (
            f"getent group {quoted} | sed 's/^/group:/'; "
            f"getent passwd {quoted} | sed 's/^/passwd:/'; true"
        )

    def process(self, output: list[str]) -> dict[str, list[str]]:
        found = {}
        for line in output:
            database, _, entry = line.partition(":")
            found[database] = entry.split(":")
        return found


class DirectoryModes(FactBase[dict[str, tuple[str, str]]]):
    """Mode and owner of those of some paths that are directories: {path: (mode, owner)}."""

    @staticmethod
    def default() -> dict[str, tuple[str, str]]:
        """Nothing found (pyinfra gives a fact with no output its default)."""
        return {}

    def command(self, paths: tuple[str, ...]) -> str:
        names = " ".join(shlex.quote(path) for path in paths)
        return f'for d in {names}; do [ -d "$d" ] && stat -c \'%n %a %U\' "$d"; done; true'

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


class NvidiaHost(FactBase[dict[str, object]]):
    """The running kernel, whether the NVIDIA module is loaded, and its device nodes.

    .. code:: python

        {"kernel": "6.1.0-28-amd64", "module": True,
         "devices": ["/dev/nvidia0", "/dev/nvidiactl"]}

    ``kernel`` names the headers DKMS needs (``linux-headers-<kernel>``). ``module`` is the
    loaded driver's /proc entry; device nodes alone prove nothing (nvidia-smi's setuid
    nvidia-modprobe creates /dev/nvidiactl even where no driver is loaded).
    """

    def command(self) -> str:
        return (
            'echo "kernel $(uname -r)"; '
            "[ -e /proc/driver/nvidia/version ] && echo module; "
            'for d in /dev/nvidia*; do [ -e "$d" ] && echo "$d"; done; true'
        )

    def process(self, output: list[str]) -> dict[str, object]:
        kernel = ""
        devices: list[str] = []
        for line in output:
            if line.startswith("kernel "):
                kernel = line.split(" ", 1)[1].strip()
            elif line.startswith("/dev/nvidia"):
                devices.append(line.strip())
        return {"kernel": kernel, "module": "module" in output, "devices": sorted(devices)}


class PostgresDatabase(FactBase[dict[str, object]]):
    """What PostgreSQL holds of the FKS role and database, read with ``psql`` as postgres.

    .. code:: python

        {"verifier": "SCRAM-SHA-256$4096:...", "owner": "fks", "extensions": ["vector"]}

    ``verifier`` is the role's stored password verifier (None without the role), ``owner``
    the database's owner (None without the database). Before PostgreSQL is installed or
    while it is down, everything reads as missing. Role and database names come from
    validated settings (``^[a-z_][a-z0-9_]*$``), so they are safe inside the quotes.
    """

    def command(self, user: str, database: str) -> str:
        # One psql, its commands in order: the role and the owner from the maintenance
        # database, then the extensions from the FKS database. Where that database is
        # missing, psql stops at the failed ``\c`` and the extensions line is left out.
        return (
            "if command -v psql >/dev/null 2>&1; then runuser -u postgres -- psql -XAtq "
            "-c \"SELECT 'verifier ' || coalesce((SELECT rolpassword FROM pg_authid "
            f"WHERE rolname = '{user}'), '')\" "
            "-c \"SELECT 'owner ' || coalesce((SELECT pg_get_userbyid(datdba) FROM pg_database "
            f"WHERE datname = '{database}'), '')\" "
            f"-c '\\c {database}' "
            "-c \"SELECT 'extensions ' || coalesce(string_agg(extname, ','), '') "
            'FROM pg_extension" '
            "2>/dev/null; fi; true"
        )

    def process(self, output: list[str]) -> dict[str, object]:
        found: dict[str, object] = {"verifier": None, "owner": None, "extensions": []}
        for line in output:
            key, _, value = line.partition(" ")
            value = value.strip()
            if key in ("verifier", "owner"):
                found[key] = value or None
            elif key == "extensions":
                found[key] = [name for name in value.split(",") if name]
        return found
