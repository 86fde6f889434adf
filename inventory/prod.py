"""Production inventory: EXAMPLE hosts, edit before use.

Groups are roles (core, gpu, bridge, datastore); a host in several groups gets the union of
their services. PostgreSQL and Redis run on the host in group datastore, or on the only core
host when no host is in that group (docs/SUPPORTING.md). Connection data uses pyinfra's
ssh_* keys; fks_* keys are fks-infra settings (documented in group_data/all.py). Addresses
below are from the documentation range 192.0.2.0/24 and must be replaced with your hosts'
addresses.
"""

_ssh = {"ssh_user": "deploy", "_sudo": True}

core = [
    ("core-1", {"ssh_hostname": "192.0.2.10", **_ssh}),
]

gpu = [
    ("gpu-1", {"ssh_hostname": "192.0.2.20", **_ssh}),
]

bridge = [
    ("bridge-1", {"ssh_hostname": "192.0.2.30", **_ssh}),
]
