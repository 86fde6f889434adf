"""What the NVIDIA driver needs of the host's kernel."""

from __future__ import annotations

import shlex
from collections.abc import Generator

from pyinfra.api.exceptions import OperationError
from pyinfra.facts.deb import DebPackages

from fks_infra.gpu.facts import NvidiaHost
from fks_infra.operations.apt import APT_INSTALL
from fks_infra.operations.factcache import fact, host_operation


@host_operation
def kernel_headers() -> Generator[object, None, None]:
    """Install the headers of the running kernel, so DKMS can build the NVIDIA module for it."""
    kernel = fact(NvidiaHost)["kernel"]
    if not kernel:
        raise OperationError("cannot tell the running kernel (uname -r said nothing)")
    package = f"linux-headers-{kernel}"
    if package in fact(DebPackages):
        return
    yield f"{APT_INSTALL} {shlex.quote(package)}"
