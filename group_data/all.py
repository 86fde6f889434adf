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
