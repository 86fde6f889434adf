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

    Only on a host with its own kernel. A container shares the kernel of its machine, and
    what it may write of it (its network namespace's ``net.*``) belongs to its container
    manager: under LXC the second deploy set them again (seen by
    ``tests/lab/test_vagrant_lxc.py``; why was not traced). There, and for any parameter
    whose ``/proc/sys`` file is read-only, the differing keys are logged as left alone; the
    file in ``/etc/sysctl.d`` sets them at boot on a host with its own kernel.
    """
    live = fact(KernelParameters, keys=tuple(values))
    differing = {k: v for k, v in values.items() if k in live and live[k][0] != v}
    container = fact(Container)
    left = sorted(differing if container else (k for k in differing if not live[k][1]))
    if left:
        where = f"in a container ({container}): its machine's" if container else "read-only here"
        logger.info("%s: kernel parameters %s, left as they are: %s", host.name, where,
                    ", ".join(left))  # fmt: skip
    wanted = [f"{k}={v}" for k, v in differing.items() if k not in left]
    if wanted:
        yield StringCommand("sysctl", "-q", "-w", *wanted)
