"""What fks-infra left of the FKS services on a host."""

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
