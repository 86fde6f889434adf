"""Settings of the hosts of inventory/vagrant.py (every Vagrant machine is in group "vagrant").

Each line says why the Vagrant machines differ from production.
"""

# Throwaway VMs stay off the real tailnet (a random lab key could not log in anyway).
fks_tailscale_enabled = False
