"""Kernel parameters set live where they differ from what fks-infra wants."""

from __future__ import annotations

from collections.abc import Generator, Mapping

from pyinfra import logger
from pyinfra.api.command import StringCommand
from pyinfra.context import host

from fks_infra.hardening.facts import Container, KernelParameters
from fks_infra.operations.factcache import fact, host_operation


@host_operation
def kernel_parameters(values: Mapping[str, str]) -> Generator[object, None, None]:
    """Set each kernel parameter of ``values`` whose live value differs (``sysctl -w``).

    + values: {key: value}; a key this kernel does not have is left out (an older kernel)

    A parameter this host may not set (its ``/proc/sys`` file is read-only: a container,
    which shares the kernel of its machine, a deploy must not change) is logged as skipped,
    with the reason; the file in ``/etc/sysctl.d`` sets it at boot on a host with its own
    kernel.
    """
    live = fact(KernelParameters, keys=tuple(values))
    differing = {k: v for k, v in values.items() if k in live and live[k][0] != v}
    read_only = sorted(k for k in differing if not live[k][1])
    if read_only:
        container = fact(Container)
        where = f"in a container ({container})" if container else "here"
        logger.info(
            "%s: read-only %s, left as they are: %s", host.name, where, ", ".join(read_only)
        )
    wanted = [f"{k}={v}" for k, v in differing.items() if live[k][1]]
    if wanted:
        yield StringCommand("sysctl", "-q", "-w", *wanted)
