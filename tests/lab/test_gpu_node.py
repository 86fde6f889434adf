"""End to end on the lab: deploy/gpu_node.py provisions gpu-1 alone; GPU checks skip visibly.

What the lab exercises (group_data/lab.py): Debian's non-free source and pin, the userland
packages that install without a kernel module (nvidia-smi, libnvidia-ml1,
nvidia-persistenced), the nouveau blacklist file, the persistenced drop-in, the GPU units.
What it cannot: DKMS, kernel headers, update-initramfs, the reboot, a real GPU.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest
from deploying import BIN, INVENTORY, REPO, Run, fks_infra

from fks_infra.gpu import driver as gpu
from fks_infra.lab.testing import Lab

pytestmark = pytest.mark.lab


def gpu_node(*args: str) -> Run:
    done = subprocess.run(
        [str(BIN / "pyinfra"), "-y", "--json", INVENTORY, "deploy/gpu_node.py",
         "--limit", "gpu-1", *args],
        cwd=REPO, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    return Run(done.returncode, done.stdout, done.stderr, 0.0)


def test_gpu_node_deploys_gpu_1_alone_and_converges(lab: Lab, deployed: Run) -> None:
    first = gpu_node()
    assert first.returncode == 0, first.why()
    assert {host for _, host in first.changed()} <= {"gpu-1"}
    again = gpu_node()
    assert again.returncode == 0, again.why()
    assert again.changed() == []
    installed = lab.ssh("gpu-1", "dpkg-query -W -f '${Package} ${Version}\\n' nvidia-smi "
                        "libnvidia-ml1 nvidia-persistenced").stdout  # fmt: skip
    assert all(line.split()[1].startswith("535.") for line in installed.splitlines()), installed
    assert lab.ssh("gpu-1", f"test -f {gpu.BLACKLIST}").returncode == 0
    assert lab.ssh("gpu-1", "dpkg -s dkms").returncode != 0, "no DKMS in the lab"
    # nvidia-smi is installed and says plainly that there is no driver to talk to.
    smi = lab.ssh("gpu-1", "nvidia-smi")
    assert smi.returncode != 0 and "NVIDIA" in smi.stdout + smi.stderr


def test_verify_on_gpu_1_passes_with_the_gpu_checks_visibly_skipped(
    deployed: Run, tmp_path: Path
) -> None:
    report = tmp_path / "gpu.xml"
    done = fks_infra("verify", INVENTORY, "--limit", "gpu-1", "--junitxml", str(report))
    assert done.returncode == 0, done.stdout[-4000:]
    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        if not case.get("classname", "").endswith("test_gpu"):
            continue
        result = next(iter(case), None)
        outcomes[case.get("name", "")] = (
            ("passed", "") if result is None else (result.tag, result.get("message", ""))
        )
    print(json.dumps(outcomes, indent=1))
    skipped = "no NVIDIA device on gpu-1"
    passed = {name.split("[")[0] for name, (outcome, _) in outcomes.items() if outcome == "passed"}
    assert {"test_driver_packages_at_the_pinned_branch", "test_nouveau_blacklisted"} <= passed
    for name, (outcome, message) in outcomes.items():
        if "nvidia_smi" in name or "persistenced" in name or "sees_its_gpus" in name:
            assert outcome == "skipped" and skipped in message, (name, outcome, message)
