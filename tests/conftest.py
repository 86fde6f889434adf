"""Shared test wiring: the ``lab`` marker policy and the session-wide ``lab`` fixture.

Tests marked ``@pytest.mark.lab`` need a machine that can boot systemd-nspawn
hosts. Where it cannot, they are skipped with the reason, except on CI
(``CI=true``), where a runner that cannot run them is a failure, not a pass.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator

import pytest

from fks_infra.lab import lifecycle
from fks_infra.lab.capabilities import missing_capabilities
from fks_infra.lab.paths import lab_paths
from fks_infra.lab.spec import DEFAULT_RELEASE, default_hosts
from fks_infra.lab.testing import Lab


@functools.cache
def _lab_missing() -> tuple[str, ...]:
    return tuple(missing_capabilities())


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, on CI, fail) lab tests on a machine that cannot run the lab."""
    if item.get_closest_marker("lab") is None:
        return
    missing = _lab_missing()
    if not missing:
        return
    reason = "this machine cannot run the lab: missing " + "; ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: lab tests must run here)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The default three-host lab (``$FKS_LAB_HOSTS`` when set), up for the whole session.

    A healthy lab of the same spec that is already up is reused and left running;
    a lab this fixture started is taken down at the end, whatever the outcome.
    """
    paths = lab_paths()
    result = lifecycle.up(default_hosts(), DEFAULT_RELEASE, paths)
    try:
        yield Lab(state=result.state, paths=paths)
    finally:
        if not result.reused:
            lifecycle.down(paths)
