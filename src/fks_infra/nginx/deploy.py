"""nginx on edge hosts: the whole inventory's services over HTTPS."""

from __future__ import annotations

from pyinfra.api.deploy import deploy

from fks_infra.distro import Distro
from fks_infra.nginx.config import MAIN_CONFIG, render_nginx
from fks_infra.nginx.operations import self_signed_certificate
from fks_infra.nginx.tls import SELF_SIGNED_TLS, TLS_DIR, TlsFiles, configured_tls, read_tls
from fks_infra.operations.apt import packages
from fks_infra.operations.checked import checked_files
from fks_infra.operations.files import private_file
from fks_infra.operations.server import directories
from fks_infra.operations.systemd import service_state
from fks_infra.plan import HostPlan, InventoryPlan


@deploy("nginx")
def configure_nginx(plan: HostPlan, inventory: InventoryPlan, distro: Distro) -> None:
    """nginx from the distribution, serving the whole inventory's services over HTTPS."""
    packages(name="Install nginx", names=["nginx", "openssl"])
    directories(name=f"Directory {TLS_DIR}", layout=((TLS_DIR, "700", "root"),))
    tls = _install_tls(plan)
    checked_files(
        name="Render nginx config",
        label="nginx",
        files=render_nginx(plan, inventory, tls, distro),
        check="nginx -t -q -c {candidate}" + MAIN_CONFIG,
        # Reload: running connections finish on the old workers. Start if it is not running.
        activate="systemctl reload-or-restart nginx.service",
    )
    service_state(name="Enable nginx.service", units=["nginx.service"])


def _install_tls(plan: HostPlan) -> TlsFiles:
    pair = read_tls(plan.settings)
    if pair is None:
        server_name = plan.settings.fks_nginx_server_name
        self_signed_certificate(
            name="Make a self-signed TLS certificate (only when missing)",
            certificate=SELF_SIGNED_TLS.certificate,
            key=SELF_SIGNED_TLS.key,
            common_name=plan.name if server_name == "_" or "*" in server_name else server_name,
            addresses=(plan.address,),
        )
        return SELF_SIGNED_TLS
    certificate, key = pair
    tls = configured_tls(certificate, key)
    private_file(
        name="Upload the TLS certificate", content=certificate, dest=tls.certificate, mode="644"
    )
    private_file(name="Upload the TLS private key", content=key, dest=tls.key, mode="600")
    return tls
