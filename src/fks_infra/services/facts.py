"""What fks-infra left of the FKS services on a host, and the services' system users."""

from __future__ import annotations

from pyinfra.api.facts import FactBase

from fks_infra.paths import DEPLOYED_DIR, ENV_DIR, INSTALL_ROOT, UNIT_DIR


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
            f"for p in {UNIT_DIR}/fks-*.service {ENV_DIR}/*.env {INSTALL_ROOT}/*/; do "
            '[ -e "$p" ] && echo "present $p"; done; '
            f"for f in {DEPLOYED_DIR}/*; do "
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


#: What the passwd entry of a service's user says: no login shell, no home.
NO_SHELL = "/usr/sbin/nologin"
NO_HOME = "/nonexistent"


class ServiceAccounts(FactBase[dict[str, dict[str, list[str]]]]):
    """The services' users and groups (names starting ``fks-``), in one command.

    ``{"passwd": {"fks-web": [name, x, uid, gid, gecos, home, shell]},
    "group": {"fks-web": [name, x, gid, members]}}``, fields as ``getent`` prints them.
    """

    @staticmethod
    def default() -> dict[str, dict[str, list[str]]]:
        """Nothing found (pyinfra gives a fact with no output its default)."""
        return {"passwd": {}, "group": {}}

    def command(self) -> str:
        return (
            "getent passwd | grep '^fks-' | sed 's/^/passwd:/'; "
            "getent group | grep '^fks-' | sed 's/^/group:/'; true"
        )

    def process(self, output: list[str]) -> dict[str, dict[str, list[str]]]:
        found: dict[str, dict[str, list[str]]] = {"passwd": {}, "group": {}}
        for line in output:
            database, _, entry = line.partition(":")
            if database in found:
                fields = entry.split(":")
                found[database][fields[0]] = fields
        return found
