"""Facts fks-infra reads from a host: one short command each, no side effects."""

from __future__ import annotations

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


class DeployedServices(FactBase[dict[str, str]]):
    """What fks-infra left on the host: {service: deployment id ('' if unknown)}.

    A service counts as installed when its unit file, env file or install directory
    exists; the deployment id is what fks-rollout recorded after a healthy start.
    """

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


class SshdPorts(FactBase[list[int]]):
    """The TCP ports sshd's effective config listens on (``sshd -T``), empty if unknown."""

    @staticmethod
    def default() -> list[int]:
        return []

    def command(self) -> str:
        return "sshd -T 2>/dev/null | awk '$1 == \"port\" {print $2}'; true"

    def process(self, output: list[str]) -> list[int]:
        return sorted({int(line) for line in output if line.strip().isdigit()})
