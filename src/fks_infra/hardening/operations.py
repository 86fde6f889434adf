"""Kernel parameters set live where they differ from what fks-infra wants."""

from __future__ import annotations

from collections.abc import Generator, Mapping

from pyinfra import logger
from pyinfra.api.command import StringCommand
from pyinfra.context import host

from fks_infra.hardening.config import settable
from fks_infra.hardening.facts import Container, KernelParameters
from fks_infra.operations.factcache import fact, host_operation


@host_operation
def kernel_parameters(values: Mapping[str, str]) -> Generator[object, None, None]:
    """Set each kernel parameter of ``values`` whose live value differs (``sysctl -w``).

    + values: {key: value}; a key this kernel does not have is left out (an older kernel)

    In a container (``Container`` fact) only the network namespace's ``net.*`` keys are
    set: the others belong to the kernel the container shares with its host machine, which
    a deploy must not change; they are logged as skipped, with that reason. The file in
    ``/etc/sysctl.d`` sets all of them at boot on a host with its own kernel.
    """
    container = fact(Container)
    live = fact(KernelParameters, keys=tuple(values))
    differing = {k: v for k, v in values.items() if k in live and live[k] != v}
    skipped = sorted(k for k in differing if not settable(k, container))
    if skipped:
        logger.info(
            "%s: in a container (%s), kernel-wide parameters belong to the machine's kernel; "
            "not set: %s",
            host.name,
            container,
            ", ".join(skipped),
        )
    wanted = [f"{k}={v}" for k, v in differing.items() if settable(k, container)]
    if wanted:
        yield StringCommand("sysctl", "-q", "-w", *wanted)
