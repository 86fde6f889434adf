"""What a host says of its operating system."""

from __future__ import annotations

from pyinfra.api.facts import FactBase

from fks_infra.distro import parse_os_release


class OsRelease(FactBase[dict[str, str]]):
    """The fields of the host's ``os-release`` file (os-release(5): ``/etc/os-release``,
    else ``/usr/lib/os-release``); empty when neither exists.

    .. code:: python

        {"ID": "debian", "VERSION_ID": "13", "VERSION_CODENAME": "trixie", ...}
    """

    @staticmethod
    def default() -> dict[str, str]:
        """Nothing found (pyinfra gives a fact with no output its default)."""
        return {}

    def command(self) -> str:
        return "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null; true"

    def process(self, output: list[str]) -> dict[str, str]:
        return parse_os_release("\n".join(output))
