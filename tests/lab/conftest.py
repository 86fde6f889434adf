"""The lab deployed once per session, shared by every end-to-end deploy test."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploying import INVENTORY, Run, deploy, fks_infra

from fks_infra.lab.testing import Lab

#: Tests that take the lab down and bring up bare hosts; they run after every other lab
#: test, which may rely on the session's deployed lab.
RECREATES_THE_LAB = ("test_down_leaves_nothing_behind",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.name in RECREATES_THE_LAB)


@pytest.fixture(scope="session")
def deployed(lab: Lab) -> Iterator[Run]:
    """The lab with secrets generated and the whole stack deployed once."""
    init = fks_infra("secrets", "init", INVENTORY)
    assert init.returncode == 0, init.stderr
    bare = all(lab.ssh(h.name, "test -e /opt/fks").returncode != 0 for h in lab.hosts)
    first = deploy()
    first.bare = bare
    assert first.returncode == 0, first.why()
    yield first


@pytest.fixture(scope="session")
def verified(
    deployed: Run, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``fks-infra verify`` of the deployed lab, run once (about 40 s), and its JUnit report:
    the deploy tests count its cases per module, the support tests look for theirs."""
    report = tmp_path_factory.mktemp("verify") / "verify.xml"
    return fks_infra("verify", INVENTORY, "--junitxml", str(report)), report
