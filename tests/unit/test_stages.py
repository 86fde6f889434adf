"""The order of the deploy's stages (``run/stages.py``), recorded by calling ``deploy_roles``
with every stage replaced by a recorder and a plan of one host of every role."""

from __future__ import annotations

from typing import Any

import pytest
from test_edge_render import all_secrets, spec

from fks_infra.distro import SUPPORTED
from fks_infra.plan import plan_inventory
from fks_infra.run import stages

#: The stages that make something listen on a port beyond SSH.
LISTENING = (
    "install_postgres",
    "install_redis",
    "install_services",
    "install_node_exporter",
    "install_monitoring",
    "configure_nginx",
    "join_tailnet",
)


@pytest.fixture
def order(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    inventory = plan_inventory(
        [spec("aio-1", ["core", "datastore", "gpu", "bridge"], "10.0.0.10")], secrets=all_secrets
    )
    called: list[str] = []
    monkeypatch.setattr(stages, "install_speedups", lambda: None)
    monkeypatch.setattr(stages, "host_plan", lambda: inventory.hosts[0])
    monkeypatch.setattr(stages, "inventory_plan", lambda: inventory)
    monkeypatch.setattr(stages, "host_distro", lambda plan: SUPPORTED[0])
    for name in ("prepare_host", "configure_firewall", "harden_sshd", "harden_host",
                 "configure_time", "install_gpu_driver", *LISTENING):  # fmt: skip

        def record(*args: Any, name: str = name, **kwargs: Any) -> None:
            called.append(name)

        monkeypatch.setattr(stages, name, record)
    return called


def test_the_firewall_is_up_before_anything_listens_beyond_ssh(order: list[str]) -> None:
    stages.deploy_roles()
    assert set(LISTENING) <= set(order), order  # every stage ran for this host
    assert order[:2] == ["prepare_host", "configure_firewall"], order
