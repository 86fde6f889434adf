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

# Install Tailscale and join every host to the tailnet (needs secret TAILSCALE_AUTHKEY).
fks_tailscale_enabled = True

# apt repository Tailscale comes from (a mirror may stand in for pkgs.tailscale.com).
fks_tailscale_repository = "https://pkgs.tailscale.com/stable/debian"

# Suite (distribution) of that repository: the hosts' Debian codename.
fks_tailscale_suite = "bookworm"

# URL of the repository's signing keyring (binary .gpg), used unless keyring_file is set.
fks_tailscale_keyring_url = "https://pkgs.tailscale.com/stable/debian/bookworm.noarmor.gpg"

# Keyring file on this machine (relative to the project root) shipped instead of the URL.
fks_tailscale_keyring_file = None

# SHA-256 the downloaded keyring must have (hex); None trusts the URL's TLS alone.
fks_tailscale_keyring_sha256 = None

# Pin tailscale to this package version (apt preferences, e.g. "1.76.6"); None: latest.
fks_tailscale_version = None

# Tailscale machine name (DNS label); None: the inventory name of the host.
fks_tailscale_hostname = None

# Control server URL for headscale; None: Tailscale's own coordination server.
fks_tailscale_login_server = None

# More `tailscale up` flags, each "--flag=value" (hostname, tags, key: set by fks-infra).
fks_tailscale_up_extra_args: list[str] = []

# UDP port tailscaled listens on for WireGuard (/etc/default/tailscaled PORT).
fks_tailscale_port = 41641

# Policy: who may apply the fks tags (autogroup:admin, group:..., user@domain).
fks_tailscale_tag_owners = ["autogroup:admin"]

# Policy: who may reach SSH (22) and HTTPS (443) on every fks host.
fks_tailscale_admins = ["autogroup:admin"]
