"""The release source grammar: one parser for the plan's validation and the deploy's build."""

from __future__ import annotations

from pathlib import Path

import pytest

from fks_infra.plan import release_source_problem
from fks_infra.releases.demo import DEFAULT_DEMO_DIR
from fks_infra.releases.model import (
    ArtifactSource,
    Behaviour,
    CheckoutSource,
    DemoSource,
    ReleaseError,
)
from fks_infra.releases.source import parse_release_source


def test_each_form_names_its_source(tmp_path: Path) -> None:
    behaviour = next(iter(Behaviour))
    assert parse_release_source("demo") == (DemoSource(DEFAULT_DEMO_DIR), None)
    assert parse_release_source(f"demo:{behaviour.value}") == (
        DemoSource(DEFAULT_DEMO_DIR),
        behaviour,
    )
    assert parse_release_source(f"artifacts:{tmp_path}") == (ArtifactSource(tmp_path), None)
    assert parse_release_source(str(tmp_path)) == (CheckoutSource(tmp_path), None)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("demo:no-such-fault", "a demo behaviour is one of"),
        ("artifacts:/nonexistent/fks", "no such directory on this machine"),
        ("/nonexistent/fks", "no such directory on this machine"),
    ],
)
def test_the_plan_refuses_what_the_deploy_could_not_build(setting: str, message: str) -> None:
    with pytest.raises(ReleaseError, match=message):
        parse_release_source(setting)
    problem = release_source_problem(setting)
    assert problem is not None and message in problem and repr(setting) in problem
