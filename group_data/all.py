"""Settings every host starts from: the documented defaults of every fks-infra setting.

Override per role in group_data/<role>.py, per inventory in group_data/<inventory>.py
(pyinfra puts every host of inventory/prod.py in the group "prod"), or per host in the
inventory. pyinfra replaces a key whole (no deep merge), so keys are flat and prefixed.
"""

# Catalogue services to run on a host in addition to those of its roles (names).
fks_services_extra: list[str] = []

# Catalogue services not to run on a host although its roles include them (names).
fks_services_skip: list[str] = []

# Move services to other ports, {name: port}; each stays within its category's range.
fks_port_overrides: dict[str, int] = {}

# TOML file of secrets (relative to the project root); FKS_SECRET_<NAME> env vars win.
fks_secrets_file = "secrets/fks.toml"

# Address other inventory hosts reach this host at (default: its ssh_hostname, an IP).
fks_private_address = None

# Address the services listen on (default: fks_private_address); "127.0.0.1" for one host.
fks_bind_address = None

# System user and group the services run as (created without a login shell).
fks_service_user = "fks"

# Where releases come from: "demo", a checkout root holding services/<name>, or artifacts:DIR.
fks_release_source = "demo"

# Per-service release sources, {name: source}, overriding fks_release_source.
fks_release_sources: dict[str, str] = {}

# Releases kept per service on a host (the live one and its predecessors), at least 2.
fks_releases_keep = 3

# Seconds a (re)started service has to answer /health with 200 before it is rolled back.
fks_health_timeout = 60

# MemoryMax= of every FKS unit (systemd size: 512M, 2G, a percentage, or infinity).
fks_memory_max = "1G"

# TasksMax= of every FKS unit: processes plus threads a service may have.
fks_tasks_max = 512

# Services whose runtime JIT-compiles code (PyTorch, numba): MemoryDenyWriteExecute=no.
fks_write_execute_services = ["ai", "training"]
