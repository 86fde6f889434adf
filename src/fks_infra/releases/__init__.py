"""Releases: the artifacts fks-infra ships to hosts, built and checked on the control machine.

A release of a service is a directory holding what the host needs and nothing
it must fetch: a wheelhouse (Python) or a binary (Rust), a ``release.json`` and a
``SHA256SUMS`` manifest. See docs/RELEASES.md.
"""

from pathlib import Path

from fks_infra.releases import manifest as _manifest
from fks_infra.releases.build import DEFAULT_CACHE_DIR, build_release, load_release
from fks_infra.releases.demo import DEFAULT_DEMO_DIR, generate_demo_checkout
from fks_infra.releases.manifest import MANIFEST_NAME, verify_manifest
from fks_infra.releases.model import (
    ArtifactSource,
    Behaviour,
    CheckoutSource,
    DemoSource,
    Language,
    Release,
    ReleaseError,
    ReleaseFile,
    Source,
)
from fks_infra.releases.target import DEFAULT_TARGET, PythonTarget

# The host-side check, standalone: upload this file and run
# ``python3 VERIFY_SCRIPT RELEASE_DIR --manifest-sha256 HEX`` before going live.
VERIFY_SCRIPT = Path(_manifest.__file__)

__all__ = [
    "DEFAULT_CACHE_DIR",
    "DEFAULT_DEMO_DIR",
    "DEFAULT_TARGET",
    "MANIFEST_NAME",
    "VERIFY_SCRIPT",
    "ArtifactSource",
    "Behaviour",
    "CheckoutSource",
    "DemoSource",
    "Language",
    "PythonTarget",
    "Release",
    "ReleaseError",
    "ReleaseFile",
    "Source",
    "build_release",
    "generate_demo_checkout",
    "load_release",
    "verify_manifest",
]
