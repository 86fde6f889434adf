"""What a host says of its virtualisation and its kernel parameters."""

from __future__ import annotations

import shlex

from pyinfra.api.facts import FactBase


class Container(FactBase[str | None]):
    """The container technology the host runs in (``systemd-detect-virt --container``:
    ``systemd-nspawn``, ``lxc``, ``docker``...), or None on a host with its own kernel
    (a machine or a VM)."""

    @staticmethod
    def default() -> str | None:
        return None

    def command(self) -> str:
        return "systemd-detect-virt --container 2>/dev/null; true"

    def process(self, output: list[str]) -> str | None:
        found = output[0].strip() if output else ""
        return None if found in ("", "none") else found


class KernelParameters(FactBase[dict[str, str]]):
    """The live values of some kernel parameters (``sysctl -n``), one per key; a key the
    kernel does not have is left out. Values with several fields keep single spaces.

    .. code:: python

        {"kernel.kptr_restrict": "0", "net.ipv4.conf.all.forwarding": "1"}
    """

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def command(self, keys: tuple[str, ...]) -> str:
        quoted = " ".join(shlex.quote(key) for key in keys)
        return (
            f'for k in {quoted}; do v=$(sysctl -n "$k" 2>/dev/null) && '
            'printf "%s=%s\\n" "$k" "$v"; done; true'
        )

    def process(self, output: list[str]) -> dict[str, str]:
        values = {}
        for line in output:
            key, sep, value = line.partition("=")
            if sep:
                values[key] = " ".join(value.split())
        return values
