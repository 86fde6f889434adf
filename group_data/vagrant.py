"""Settings of the hosts of inventory/vagrant.py (every Vagrant machine is in group "vagrant").

Each line says why the Vagrant machines differ from production.
"""

# Generated per run by `fks-infra secrets init inventory/vagrant.py`; never the production file.
fks_secrets_file = ".vagrant/secrets.toml"

# Throwaway VMs stay off the real tailnet (a random lab key could not log in anyway).
fks_tailscale_enabled = False

# No Windows desktop beside the VMs: loopback endpoints nothing listens on (checks skip).
fks_ninjatrader_host = "127.0.0.1"

# Loopback stand-in port for NinjaTrader (not a catalogue port).
fks_ninjatrader_port = 36973

# Loopback stand-in for the MT5 bridge (not a catalogue port).
fks_mt5_bridge_url = "http://127.0.0.1:18080/"

# Nothing answers at those endpoints: verify skips the Windows checks, saying why.
fks_windows_endpoints_checked = False

# VirtualBox/libvirt VMs have no GPU and no NVIDIA repository: Debian's userland only.
fks_gpu_driver_source = "debian"

# No GPU passed through: no kernel module (the checks that need a device skip).
fks_gpu_kernel_module = False
