"""What a release is: typed, frozen values shared by the builders and the deploys."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Language = Literal["python", "rust"]

# Placeholders systemd expands from the unit's Environment= lines in ExecStart=.
HOST_PLACEHOLDER = "${SERVICE_HOST}"
PORT_PLACEHOLDER = "${SERVICE_PORT}"


class ReleaseError(RuntimeError):
    """A release cannot be built; the message names the service and the cause."""


class Behaviour(enum.StrEnum):
    """A fault baked into a demo release, so tests can exercise health checks and rollback."""

    HEALTH_FAIL = "health=fail"
    CRASH = "crash"
    #: Python only: the ``migrate`` pre-start task fails (a real error from PostgreSQL).
    MIGRATE_FAIL = "migrate=fail"


@dataclass(frozen=True)
class DemoSource:
    """Build from the stand-ins under ``demo/`` (the default when no real code exists)."""

    demo_dir: Path


@dataclass(frozen=True)
class CheckoutSource:
    """Build from real checkouts: the service lives in ``<root>/services/<name>``.

    A Python service there is a project pip can build; shared libraries it requires
    that are not on PyPI live in ``<root>/libs/<distribution>``. A Rust service
    there is a cargo crate with a committed ``Cargo.lock``.
    """

    root: Path


@dataclass(frozen=True)
class ArtifactSource:
    """Ship what a CI already built: ``fks_<name>-*.whl`` (plus any local wheels it
    needs) or a binary ``fks_<name>`` in ``directory``."""

    directory: Path


Source = DemoSource | CheckoutSource | ArtifactSource


@dataclass(frozen=True)
class ReleaseFile:
    """One file to ship, relative to the release directory."""

    path: str
    sha256: str
    executable: bool


@dataclass(frozen=True)
class Release:
    """A built release of one service, ready in ``directory`` on the control machine.

    + release_id: short SHA-256 over the build inputs; same inputs, same id. A Python
      release's ends in its target's interpreter tag (``3f2a...-cp313``)
    + files: every file to ship (SHA256SUMS itself is shipped beside them)
    + manifest_sha256: digest of SHA256SUMS, for the host-side check
    + command: argv relative to the release directory, with ${SERVICE_HOST} and
      ${SERVICE_PORT} left for systemd to expand
    + install: argv lists to run once in the release directory on the host
    + target: what a Python release's wheels are for (``cp313-manylinux_2_41_x86_64``);
      None for a Rust release, which does not depend on the host's Python
    """

    name: str
    language: Language
    release_id: str
    directory: Path
    files: tuple[ReleaseFile, ...]
    manifest_sha256: str
    command: tuple[str, ...]
    install: tuple[tuple[str, ...], ...]
    target: str | None = None

    def task_command(self, task: str) -> tuple[str, ...]:
        """argv (relative to the release directory) of a release task: a companion such as
        ``worker`` or a pre-start step such as ``migrate``.

        The contract with a service's code: a Python release ships a console script
        ``fks_<name>-<task>`` (``[project.scripts]``), a Rust release a binary
        ``bin/fks_<name>-<task>``.
        """
        program = f"fks_{self.name}-{task}"
        return (f"venv/bin/{program}",) if self.language == "python" else (f"bin/{program}",)

    def command_for(self, host: str, port: int) -> tuple[str, ...]:
        """The start command with the bind address filled in, for a direct start."""
        values = {HOST_PLACEHOLDER: host, PORT_PLACEHOLDER: str(port)}
        return tuple(values.get(arg, arg) for arg in self.command)
