"""The release source setting's grammar, parsed in one place (``fks_release_source(s)``).

    demo                the demo stand-ins (``fks_infra/demo``)
    demo:<behaviour>    the same, built with one fault (``Behaviour``), for fault tests
    artifacts:DIR       prebuilt releases in DIR (``DIR/<service>/...``)
    DIR                 a checkout root holding ``services/<name>``

``plan`` validates every host's settings with it before any host is touched; the deploy
builds what it names (``services/shipping.py``).
"""

from __future__ import annotations

from pathlib import Path

from fks_infra.releases.demo import DEFAULT_DEMO_DIR
from fks_infra.releases.model import (
    ArtifactSource,
    Behaviour,
    CheckoutSource,
    DemoSource,
    ReleaseError,
    Source,
)

DEMO = "demo"
ARTIFACTS_PREFIX = "artifacts:"


def parse_release_source(setting: str) -> tuple[Source, Behaviour | None]:
    """The source a setting names, and the demo behaviour it asks for (None: healthy).

    Raises ``ReleaseError`` naming the setting for an unknown demo behaviour or a
    directory that does not exist on this machine.
    """
    if setting == DEMO:
        return DemoSource(DEFAULT_DEMO_DIR), None
    if setting.startswith(f"{DEMO}:"):
        wanted = setting.removeprefix(f"{DEMO}:")
        behaviours = [b.value for b in Behaviour]
        if wanted not in behaviours:
            raise ReleaseError(
                f"release source {setting!r}: a demo behaviour is one of {', '.join(behaviours)}"
            )
        return DemoSource(DEFAULT_DEMO_DIR), Behaviour(wanted)
    path = Path(setting.removeprefix(ARTIFACTS_PREFIX))
    if not path.is_dir():
        raise ReleaseError(f"release source {setting!r}: no such directory on this machine")
    if setting.startswith(ARTIFACTS_PREFIX):
        return ArtifactSource(path), None
    return CheckoutSource(path), None
