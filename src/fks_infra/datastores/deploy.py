"""PostgreSQL and Redis on the datastore host, from the distribution.

Their config files go live through ``checked_files``: each candidate is checked by the
server that reads it (a throwaway PostgreSQL cluster must start with the candidate settings
and ``pg_hba.conf``; ``redis-server`` must start on the candidate redis.conf), and only then
moved live and applied. The FKS role and database are made by ``postgres_database``.
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy

from fks_infra.datastores.config import (
    POSTGRES_UNIT,
    REDIS_CONF,
    REDIS_UNIT,
    PostgresCluster,
    render_postgres,
    render_redis,
)
from fks_infra.datastores.operations import postgres_database
from fks_infra.distro import Distro
from fks_infra.operations.apt import packages
from fks_infra.operations.checked import checked_files
from fks_infra.operations.files import private_file
from fks_infra.operations.systemd import service_state
from fks_infra.package_data import host_file
from fks_infra.paths import CHECK_POSTGRES, CHECK_REDIS
from fks_infra.plan import POSTGRES_PASSWORD, HostPlan, InventoryPlan


@deploy("PostgreSQL")
def install_postgres(plan: HostPlan, inventory: InventoryPlan, distro: Distro) -> None:
    """The release's PostgreSQL on localhost and the private address; the FKS role and
    database."""
    extensions = plan.settings.fks_postgres_extensions
    cluster = PostgresCluster(distro.postgres)
    packages(
        name=f"Install PostgreSQL {cluster.version}", names=cluster.packages(tuple(extensions))
    )
    private_file(
        name=f"Install {CHECK_POSTGRES}",
        content=host_file(CHECK_POSTGRES).read_bytes(),
        dest=CHECK_POSTGRES,
        mode="755",
    )
    rendered = render_postgres(plan, inventory, cluster)
    check = f"FKS_POSTGRES_BIN={cluster.bin_dir} {CHECK_POSTGRES}"
    # Server settings first (checked against the live pg_hba.conf): listen_addresses and
    # shared_preload_libraries need a restart. Then pg_hba.conf (checked against the now live
    # settings), which a reload applies without dropping connections.
    checked_files(
        name=f"Render {cluster.conf}",
        label="postgresql-settings",
        files={cluster.conf: rendered[cluster.conf]},
        check=f"{check} {{candidate}}{cluster.conf} {cluster.hba}",
        activate=f"systemctl restart {cluster.unit}",
    )
    checked_files(
        name=f"Render {cluster.hba}",
        label="postgresql-hba",
        files={cluster.hba: rendered[cluster.hba]},
        check=f"{check} {cluster.conf} {{candidate}}{cluster.hba}",
        activate=f"systemctl reload-or-restart {cluster.unit}",
    )
    service_state(name=f"Enable {POSTGRES_UNIT}", units=[POSTGRES_UNIT])
    service_state(name=f"Start {cluster.unit}", units=[cluster.unit], enabled=None)
    postgres_database(
        name="FKS role and database in PostgreSQL",
        user=plan.settings.fks_postgres_user,
        database=plan.settings.fks_postgres_database,
        password=plan.secrets[POSTGRES_PASSWORD],
        extensions=extensions,
    )


@deploy("Redis")
def install_redis(plan: HostPlan) -> None:
    """Redis on localhost and the private address, with a password and append-only persistence."""
    packages(name="Install Redis", names=["redis-server"])
    private_file(
        name=f"Install {CHECK_REDIS}",
        content=host_file(CHECK_REDIS).read_bytes(),
        dest=CHECK_REDIS,
        mode="755",
    )
    checked_files(
        name=f"Render {REDIS_CONF}",
        label="redis",
        files={REDIS_CONF: render_redis(plan)},
        check=f"{CHECK_REDIS} {{candidate}}{REDIS_CONF}",
        activate=f"systemctl restart {REDIS_UNIT}",
        # The password is in it: readable by root and the redis group only.
        mode="640",
        group="redis",
    )
    service_state(name=f"Enable {REDIS_UNIT}", units=[REDIS_UNIT])
