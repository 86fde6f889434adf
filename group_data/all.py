"""Settings every host starts from: the documented defaults of every fks-infra setting.

Override per role in group_data/<role>.py, per inventory in group_data/<inventory>.py
(pyinfra puts every host of inventory/prod.py in the group "prod"), or per host in the
inventory. pyinfra replaces a key whole (no deep merge), so keys are flat and prefixed.

Generated from fks_infra.settings.HostSettings (each default, the docstring under it as the
comment): edit the model there, then run `make docs` (or `fks-infra settings --format
group-data > group_data/all.py`). A unit test fails while this file differs.
"""

from fks_infra.transport import nodelay_transport

# pyinfra's SSH connection: TCP_NODELAY on (see fks_infra/transport.py; measured gain in
# bench/README.md). A host or group may replace the dict, e.g. to add paramiko options.
ssh_paramiko_connect_kwargs = {"transport_factory": nodelay_transport}

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

# Where releases come from: "demo", a checkout root holding services/<name>, or artifacts:DIR.
fks_release_source = "demo"

# Per-service release sources, {name: source}, overriding fks_release_source.
fks_release_sources: dict[str, str] = {}

# Releases kept per service on a host (the live one and its predecessors), at least 2.
fks_releases_keep = 3

# Seconds a (re)started service has to answer /health with 200 before it is rolled back.
fks_health_timeout = 60

# Pre-flight: MiB that must be free on / before a deploy changes anything on a host.
fks_preflight_min_free_mib = 1024

# Pre-flight: seconds a host's clock may differ from the control machine's (trading hosts).
fks_preflight_max_clock_skew = 30

# MemoryMax= of every FKS unit (systemd size: 512M, 2G, a percentage, or infinity).
fks_memory_max = "1G"

# TasksMax= of every FKS unit: processes plus threads a service may have.
fks_tasks_max = 512

# Services whose runtime JIT-compiles code (PyTorch, numba): MemoryDenyWriteExecute=no.
fks_write_execute_services = ["ai", "training"]

# Extra variables per service, {name: {VARIABLE: value}}, set in its unit (Environment=): never
# secrets (the unit is world-readable; secrets go in the secrets file).
fks_service_environment: dict[str, dict[str, str]] = {}

# Services of this host that talk to the outside (names); None: the catalogue's (execution,
# data_ingestion, crypto, futures, stocks, analyze, ai); []: none.
fks_egress_services = None

# Networks egress services may reach (CIDRs, e.g. "203.0.113.0/24"), the host's DNS resolvers
# (/etc/resolv.conf) added; None: any address (IPAddressAllow=any), or only fks_egress_proxy when
# that is set; []: nothing outside.
fks_egress_allow = None

# HTTP(S) proxy egress services go through, http://ADDRESS:PORT (HTTPS_PROXY, HTTP_PROXY and
# NO_PROXY in their units; only it and fks_egress_allow reachable); a proxy named by DNS name needs
# fks_egress_allow to list its networks; None: no proxy.
fks_egress_proxy = None

# Install Tailscale and join every host to the tailnet (needs secret TAILSCALE_AUTHKEY).
fks_tailscale_enabled = True

# apt repository Tailscale comes from; None: pkgs.tailscale.com/stable/<host's distro>.
fks_tailscale_repository = None

# Suite of that repository; None: the host's codename (another release's is refused).
fks_tailscale_suite = None

# URL of the repository's signing keyring (.gpg); None: <repository>/<suite>.noarmor.gpg.
fks_tailscale_keyring_url = None

# Keyring file on this machine (relative to the project root) shipped instead of the URL.
fks_tailscale_keyring_file = None

# SHA-256 the downloaded keyring must have (hex); None trusts the URL's TLS alone.
fks_tailscale_keyring_sha256 = None

# Pin tailscale to this package version (apt preferences, e.g. "1.76.6"); None: latest.
fks_tailscale_version = None

# Tailscale machine name (DNS label); None: the first label of the host's inventory name.
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

# Run nginx, the stack's HTTPS entry point, on this host (None: on hosts in the core role).
fks_nginx_enabled = None

# nginx server_name of the HTTPS site ("_": any name); also the self-signed certificate's name.
fks_nginx_server_name = "_"

# PEM certificate (with chain) on the control machine; None: a self-signed one made on the host.
fks_tls_certificate = None

# PEM private key of fks_tls_certificate on the control machine (a secret: never diffed).
fks_tls_key = None

# Largest request body nginx accepts (nginx size: bytes, or with k or m).
fks_nginx_client_max_body_size = "10m"

# Seconds nginx waits for a service to send or read a response before it gives up.
fks_nginx_proxy_timeout = 60

# Requests per second one client address may make to /api/ (beyond the burst: 429).
fks_nginx_api_rate = 10

# Requests above fks_nginx_api_rate one client may make at once before getting 429.
fks_nginx_api_burst = 20

# Manage the nftables firewall (default deny inbound); False removes fks-infra's table.
fks_firewall_enabled = True

# Services of this host every inventory host may call (beyond nginx and monitor), names.
fks_firewall_open_services: list[str] = []

# TCP ports of this host open to any address (SSH, and 80/443 on nginx hosts, are already).
fks_firewall_public_tcp_ports: list[int] = []

# UDP ports of this host open to any address (e.g. 41641 for direct tailscale connections).
fks_firewall_public_udp_ports: list[int] = []

# sshd PermitRootLogin: "prohibit-password" (keys only) or "no"; None: "no" where the inventory logs
# in as another user (with sudo), "prohibit-password" where it logs in as root.
fks_ssh_permit_root_login = None

# sshd MaxAuthTries: authentication attempts per connection.
fks_ssh_max_auth_tries = 3

# sshd LoginGraceTime: seconds a client has to authenticate.
fks_ssh_login_grace_time = 30

# NTP pools chrony takes several servers from (host names); empty with no servers: no sources.
fks_ntp_pools = ["2.debian.pool.ntp.org"]

# Single NTP servers chrony uses (host names or addresses), besides fks_ntp_pools.
fks_ntp_servers: list[str] = []

# Let chrony set the clock; False: measure only (chronyd -x), for containers without CAP_SYS_TIME.
fks_time_adjust_clock = True

# NVIDIA driver source: "cuda" (NVIDIA's CUDA repository) or the host's own archive ("debian":
# non-free, "ubuntu": restricted).
fks_gpu_driver_source = "cuda"

# Driver branch apt holds (<branch>.*); None: the host's release's (fks_infra/distro.py).
fks_gpu_driver_branch = None

# Install the kernel module (DKMS, headers, nouveau out of the initramfs); False: userland only.
fks_gpu_kernel_module = True

# Reboot a GPU host when this run changed its driver packages (else reboot it yourself).
fks_gpu_reboot = False

# Seconds a driver reboot may take until SSH answers again before the run fails.
fks_gpu_reboot_timeout = 900

# Install the CUDA toolkit (cuda-toolkit-X-Y from NVIDIA, or Debian's nvidia-cuda-toolkit).
fks_gpu_cuda_toolkit = False

# CUDA version of the toolkit, major.minor ("12.2" from NVIDIA; Debian bookworm has "11.8").
fks_gpu_cuda_version = "12.2"

# NVIDIA's CUDA apt repository (flat, ends in /); None: NVIDIA's for the host's release.
fks_gpu_cuda_repository = None

# URL of NVIDIA's cuda-keyring .deb; None: cuda-keyring_1.1-1_all.deb in the repository.
fks_gpu_cuda_keyring_url = None

# cuda-keyring .deb on this machine (relative to the project root) shipped instead of the URL.
fks_gpu_cuda_keyring_file = None

# SHA-256 the downloaded cuda-keyring .deb must have (hex); None trusts the URL's TLS alone.
fks_gpu_cuda_keyring_sha256 = None

# Debian mirror for the "debian" driver source (contrib, non-free, non-free-firmware).
fks_gpu_debian_mirror = "http://deb.debian.org/debian"

# Debian security mirror for the "debian" driver source.
fks_gpu_debian_security_mirror = "http://deb.debian.org/debian-security"

# Suite for the "debian" driver source; None: the host's codename (another's is refused).
fks_gpu_debian_suite = None

# Number of GPUs of the host when known (indices are checked against it); None: unknown.
fks_gpu_count = None

# GPUs per GPU service, {name: [index, ...]} in nvidia-smi order; unlisted: all GPUs.
fks_gpu_indices: dict[str, list[int]] = {}

# NinjaTrader 8's address (an IP: units only reach addresses) where ninja runs; no default.
fks_ninjatrader_host = None

# NinjaTrader 8's TCP port where ninja runs (NINJATRADER_PORT); no default.
fks_ninjatrader_port = None

# The MT5 HTTP bridge on the Windows side where meta runs (MT5_BRIDGE_URL, host an IP).
fks_mt5_bridge_url = None

# Check from the bridge host that the Windows endpoints answer (False: those checks skip).
fks_windows_endpoints_checked = True

# Windows host to verify over WinRM (needs secret WINDOWS_WINRM_PASSWORD); None: no check.
fks_windows_winrm_host = None

# WinRM HTTPS port of the Windows host.
fks_windows_winrm_port = 5986

# WinRM user on the Windows host (user, or user@domain.example for a domain account).
fks_windows_winrm_user = "fks"

# Verify the WinRM TLS certificate (False only for a self-signed one on a private network).
fks_windows_winrm_verify_tls = True

# sshd ClientAliveInterval: seconds of silence before sshd probes the client; a client missing
# fks_ssh_client_alive_count_max + 1 probes in a row is dropped, its run lock too.
fks_ssh_client_alive_interval = 60

# sshd ClientAliveCountMax: unanswered probes tolerated (2: a dead client goes in 3 min).
fks_ssh_client_alive_count_max = 2

# sshd MaxSessions: sessions open at once on one connection (a deploy holds 3: the run lock, SFTP
# and a command).
fks_ssh_max_sessions = 4

# Text of /etc/issue and /etc/issue.net, shown before a console or telnet-style login (one line; no
# backslash: getty expands those).
fks_login_banner = (
    "Authorised access only. Activity on this private system is monitored and logged; unauthorised "
    "use is prohibited and may be reported to law enforcement."
)

# Kernel parameters of the hardening set left as the host has them (e.g.
# net.ipv4.conf.all.forwarding on a Tailscale subnet router or exit node).
fks_sysctl_skip: list[str] = []

# Kernel modules of the hardening blacklist (dccp, sctp, rds, tipc, usb-storage, firewire-core) this
# host may still load.
fks_modules_allowed: list[str] = []

# Install the release's security updates daily (unattended-upgrades): never NVIDIA or PostgreSQL
# packages, never a reboot.
fks_unattended_upgrades = True

# Networks fail2ban never bans (besides loopback and the inventory's hosts); default: the tailnet's
# addresses, where operators come from.
fks_fail2ban_ignore = ["100.64.0.0/10", "fd7a:115c:a1e0::/48"]

# Database and role PostgreSQL gives the FKS services (password: secret POSTGRES_PASSWORD).
fks_postgres_database = "fks"

# Login role of the FKS services in PostgreSQL, owner of fks_postgres_database.
fks_postgres_user = "fks"

# Extensions to install and create: "vector", "timescaledb" (need their apt repository).
fks_postgres_extensions: list[str] = []

# Redis maxmemory (kb, mb or gb); beyond it Redis refuses writes instead of evicting data.
fks_redis_maxmemory = "512mb"

# How long Prometheus keeps samples (h, d, w or y).
fks_prometheus_retention = "15d"

# Seconds between two scrapes (and two rule evaluations) by Prometheus.
fks_prometheus_scrape_interval = 15

# How long a failure lasts before its alert fires (Prometheus duration, checked by promtool).
fks_alert_for = "1m"

# Alert when a filesystem of a host has less than this many percent free.
fks_alert_disk_free_percent = 10

# Alertmanager sends alerts to the webhook URL in secret ALERTMANAGER_WEBHOOK_URL (a credential:
# root:prometheus 0640 on the host); False: alerts are only shown, not sent.
fks_alertmanager_webhook_enabled = False
