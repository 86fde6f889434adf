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
