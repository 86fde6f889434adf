"""Settings of the local lab's hosts (inventory/lab.py puts every lab host in group "lab").

Each line says why the lab differs from production.
"""

# Generated per lab by `fks-infra secrets init inventory/lab.py`; never real credentials.
fks_secrets_file = ".lab/secrets.toml"

# The lab has no internet: pkgs.tailscale.com is unreachable, so nothing is installed.
fks_tailscale_enabled = False

# nspawn guests have no CAP_SYS_TIME: chrony runs measuring only, the host keeps the clock.
fks_time_adjust_clock = False

# The lab has no internet: chrony runs with no sources instead of unreachable ones.
fks_ntp_pools: list[str] = []

# No NVIDIA repository here: Debian's non-free (reachable through the lab mirror) stands in.
fks_gpu_driver_source = "debian"

# A container cannot load kernel modules and has no GPU: userland packages only (nvidia-smi,
# NVML, persistenced), no DKMS, headers, initramfs or reboot; the blacklist file is written.
fks_gpu_kernel_module = False

# The lab hosts have no GPU; 0 would refuse ai and training, so the count stays unknown.
fks_gpu_count = None

# No Windows desktop: the bridges point at a loopback stand-in that tests/lab/test_bridge.py
# starts on bridge-1 when it needs one (nothing listens there otherwise).
fks_ninjatrader_host = "127.0.0.1"

# The stand-in NinjaTrader's port (no catalogue port; tests override it with --data).
fks_ninjatrader_port = 36973

# The stand-in MT5 bridge (no catalogue port; tests override it with --data).
fks_mt5_bridge_url = "http://127.0.0.1:18080/"

# Nothing answers there outside tests/lab/test_bridge.py: verify skips those checks, saying so.
fks_windows_endpoints_checked = False
