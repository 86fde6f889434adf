"""The NVIDIA driver as the host sees it."""

from __future__ import annotations

from pyinfra.api.facts import FactBase


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
