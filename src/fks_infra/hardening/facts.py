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


class KernelParameters(FactBase[dict[str, tuple[str, bool]]]):
    """The live value of some kernel parameters (``sysctl -n``) and whether this host may
    set each one (its ``/proc/sys`` file is writable: in a container most, sometimes all,
    are mounted read-only); a key the kernel does not have is left out. Values with several
    fields keep single spaces.

    .. code:: python

        {"kernel.kptr_restrict": ("0", False), "net.ipv4.conf.all.forwarding": ("1", True)}
    """

    @staticmethod
    def default() -> dict[str, tuple[str, bool]]:
        return {}

    def command(self, keys: tuple[str, ...]) -> str:
        quoted = " ".join(shlex.quote(key) for key in keys)
        return (
            f'for k in {quoted}; do v=$(sysctl -n "$k" 2>/dev/null) || continue; '
            'if [ -w "/proc/sys/$(printf %s "$k" | tr . /)" ]; then w=rw; else w=ro; fi; '
            'printf "%s %s=%s\\n" "$w" "$k" "$v"; done; true'
        )

    def process(self, output: list[str]) -> dict[str, tuple[str, bool]]:
        values = {}
        for line in output:
            mode, _, assignment = line.partition(" ")
            key, sep, value = assignment.partition("=")
            if sep and mode in ("rw", "ro"):
                values[key] = (" ".join(value.split()), mode == "rw")
        return values
