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
    # EXAMPLE: two GPUs, one for inference and one for training (indices as nvidia-smi).
    (
        "gpu-1",
        {
            "ssh_hostname": "192.0.2.20",
            **_ssh,
            "fks_gpu_count": 2,
            "fks_gpu_indices": {"ai": [0], "training": [1]},
        },
    ),
]

# The Windows desktop the bridges talk to (EXAMPLE address and ports: replace them). They
# have no defaults: a bridge host without them does not pass validation.
_windows = {
    "fks_ninjatrader_host": "192.0.2.40",
    "fks_ninjatrader_port": 36973,
    "fks_mt5_bridge_url": "http://192.0.2.40:18080/",
}

bridge = [
    ("bridge-1", {"ssh_hostname": "192.0.2.30", **_ssh, **_windows}),
]
