"""Where fks-infra keeps things on a host: one name for each directory and file it owns.

Component-specific files (an nginx config, a PostgreSQL drop-in) are named in their
component's package; what is here is fks-infra's own layout, shared by several components,
and the fact cache's list of managed files is derived from it (``operations/factcache.py``).
"""

from __future__ import annotations

#: One directory per service: its releases, ``current`` link and uploaded artifacts.
INSTALL_ROOT = "/opt/fks"
#: The services' env files (``<name>.env``), root-only: they hold secrets.
ENV_DIR = "/etc/fks"
#: fks-infra's own state on a host (deployment records, staging, candidates).
STATE_DIR = "/var/lib/fks-infra"
#: Programs fks-infra installs on a host (the rollout, config checkers).
LIB_DIR = "/usr/local/lib/fks-infra"
#: Where systemd reads the unit files fks-infra writes.
UNIT_DIR = "/etc/systemd/system"
#: Root-only: files get their content, mode and owner here before they are renamed into place.
STAGING_DIR = f"{STATE_DIR}/staging"
#: One directory per login user (``uploads/<user>``, 0700, theirs): over sudo, pyinfra's SFTP
#: writes as the login user, so the bytes land there before root copies them to the staging
#: directory. Each operator keeps their own, so runs by different operators in turn leave
#: every directory as they found it (one shared directory would change owner on every run).
UPLOADS_DIR = f"{STATE_DIR}/uploads"
#: Candidates of checked config files, one directory per set, mirroring the live paths.
CANDIDATES_DIR = f"{STATE_DIR}/candidates"
#: ``<service>``: the deployment id fks-rollout recorded after a healthy start.
DEPLOYED_DIR = f"{STATE_DIR}/deployed"
#: Root-only (0700): ``<service>.json``, the last release fks-rollout saw healthy (release id,
#: time, digests of its unit files and env file; schema in docs/RELEASES.md), and
#: ``<service>/<deploy id>/``, copies of those files (0600) that a rollback puts back.
HEALTHY_DIR = f"{STATE_DIR}/healthy"
#: The rollout every changed service goes through (``files/usr/local/lib/fks-infra``).
ROLLOUT = f"{LIB_DIR}/fks-rollout"
#: Root-only (root:root, 0700), made by whichever takes a lock first: the run lock and the
#: rollout lock live here, where no other local user can open (and so hold) them. A path that
#: is a symlink, not a directory, not root's or writable by others is refused.
LOCK_DIR = "/run/fks-infra"
#: One rollout at a time per host; fks-rollout writes its pid and command into it while held.
#: (The run lock, ``run/runlock.py``, is ``LOCK_DIR/run.lock``.)
ROLLOUT_LOCK = f"{LOCK_DIR}/rollout.lock"
#: fks_infra/releases/manifest.py on the host; fks-rollout runs it on every new release.
VERIFY_RELEASE = f"{LIB_DIR}/verify-release"
#: Checkers of candidate datastore configs (``files/usr/local/lib/fks-infra``).
CHECK_POSTGRES = f"{LIB_DIR}/check-postgres-config"
CHECK_REDIS = f"{LIB_DIR}/check-redis-config"
#: Grafana provisioning files, for an operator's Grafana to read.
GRAFANA_DIR = "/etc/fks-infra/grafana"

#: The directories every host gets: (path, mode, owner); the login user's own uploads
#: directory is added per run (``host/deploy.py``).
LAYOUT: tuple[tuple[str, str, str], ...] = (
    (INSTALL_ROOT, "755", "root"),
    (ENV_DIR, "700", "root"),  # env files hold secrets
    (STATE_DIR, "755", "root"),
    (STAGING_DIR, "700", "root"),
    (UPLOADS_DIR, "711", "root"),
    (LIB_DIR, "755", "root"),
)

#: Every file fks-infra writes with its own operations, as shell globs (a ``*`` never crosses
#: a ``/``): the fact cache digests all of them in one command per host. fks-infra's own
#: layout comes from the names above; the rest are the components' config files (each named
#: in its component's package).
MANAGED_FILES: tuple[str, ...] = (
    f"{ENV_DIR}/*",
    f"{UNIT_DIR}/fks-*",
    f"{INSTALL_ROOT}/*/artifacts/*",
    f"{LIB_DIR}/*",
    f"{STATE_DIR}/*",
    "/etc/nginx/nginx.conf",  # nginx/config.py
    "/etc/nginx/fks/*",
    "/etc/fks-infra/firewall.nft",  # firewall/ruleset.py
    "/etc/ssh/sshd_config.d/*",  # sshd/config.py
    "/etc/chrony/chrony.conf",  # chrony/config.py
    f"{UNIT_DIR}/*.d/fks-*",  # drop-ins of chrony, nvidia-persistenced
    "/etc/apt/apt.conf.d/90fks-infra",  # host/deploy.py
    "/etc/systemd/journald.conf.d/fks-infra.conf",
    "/etc/nginx/tls/*",  # nginx/tls.py
    "/etc/postgresql/*/main/conf.d/fks-infra.conf",  # datastores/config.py
    "/etc/postgresql/*/main/pg_hba.conf",
    "/etc/redis/redis.conf",
    "/etc/default/prometheus*",  # monitoring/config.py
    "/etc/default/tailscaled",  # tailscale/deploy.py
    "/etc/prometheus/*.yml",
    "/etc/prometheus/rules/*",
    f"{GRAFANA_DIR}/*/*",
    f"{GRAFANA_DIR}/*/*/*",
    "/etc/apt/sources.list.d/fks-*",  # gpu/driver.py
    "/etc/apt/preferences.d/fks-*",
    "/etc/modprobe.d/fks-*",
)
