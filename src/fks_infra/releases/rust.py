"""Rust releases: one binary, installed as ``bin/fks_<name>``.

The binary links against the control machine's glibc, so build on Debian 12 (or
older) for Debian 12 hosts; the compiler's identity is part of the release id.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path

from fks_infra.releases.model import Behaviour, ReleaseError
from fks_infra.secrets import without_secrets

BIN_DIR = "bin"


def find_cargo() -> Path:
    """cargo from $CARGO, $PATH or rustup's default place (often not on a service's PATH)."""
    candidates = [
        os.environ.get("CARGO"),
        shutil.which("cargo"),
        str(Path.home() / ".cargo/bin/cargo"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise ReleaseError("cargo not found: install rustup or Debian's cargo package, or set $CARGO")


def toolchain_identity(cargo: Path) -> str:
    """``rustc -vV`` of the compiler cargo will use: a new compiler is a new release."""
    return _rustc_version(str(_rustc(cargo)))


@functools.cache
def _rustc_version(rustc: str) -> str:
    # Asked once per process: a deploy plans the Rust release once per host, and the
    # compiler does not change in the middle of a run.
    return _run([rustc, "-vV"], env=without_secrets(os.environ))


def build_binary(
    crate: Path,
    name: str,
    behaviour: Behaviour | None,
    offline: bool,
    release_dir: Path,
    target_root: Path,
) -> None:
    """Build the crate in release mode and install its binary as ``bin/fks_<name>``.

    + offline: forbid network access (the demo crate has no dependencies at all)
    + target_root: cargo target dirs live here, one per behaviour, so variants do not
      evict each other and an unchanged crate is a no-op for cargo
    """
    cargo = find_cargo()
    manifest = crate / "Cargo.toml"
    if not manifest.is_file():
        raise ReleaseError(f"{crate} is not a cargo crate (no Cargo.toml)")
    target_dir = target_root / (behaviour.value.replace("=", "-") if behaviour else "default")
    # No fks-infra secret for cargo, build scripts and proc macros (``without_secrets``).
    env = {
        **without_secrets(os.environ),
        "CARGO_TARGET_DIR": str(target_dir),
        "RUSTC": str(_rustc(cargo)),
        # The checkout's absolute path would otherwise end up in panic messages.
        "RUSTFLAGS": f"--remap-path-prefix={crate.resolve()}=/fks-src",
    }
    # Read at compile time by the demo crate (option_env!): the fault is in the binary.
    env.pop("FKS_DEMO_BEHAVIOUR", None)
    if behaviour is not None:
        env["FKS_DEMO_BEHAVIOUR"] = behaviour.value
    network = ["--offline"] if offline else []
    binary = _binary_name(cargo, manifest, name, network, env)
    _run(
        [
            str(cargo),
            "build",
            "--release",
            "--locked",
            *network,
            "--bin",
            binary,
            "--manifest-path",
            str(manifest),
        ],
        env=env,
    )
    copy_binary(target_dir / "release" / binary, name, release_dir)


def copy_binary(binary: Path, name: str, release_dir: Path) -> None:
    """Install a prebuilt binary as ``bin/fks_<name>``."""
    installed = release_dir / BIN_DIR / f"fks_{name}"
    installed.parent.mkdir(parents=True)
    shutil.copyfile(binary, installed)
    installed.chmod(0o755)


def _binary_name(
    cargo: Path, manifest: Path, name: str, network: list[str], env: dict[str, str]
) -> str:
    """The crate's bin target: ``fks_<name>`` if it has one, else its only binary."""
    output = _run(
        [
            str(cargo),
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            *network,
            "--manifest-path",
            str(manifest),
        ],
        env=env,
    )
    bins: list[str] = sorted(
        str(target["name"])
        for package in json.loads(output)["packages"]
        for target in package["targets"]
        if "bin" in target["kind"]
    )
    if f"fks_{name}" in bins:
        return f"fks_{name}"
    if len(bins) == 1:
        return bins[0]
    raise ReleaseError(f"{manifest}: expected a binary fks_{name} or exactly one, found {bins}")


def _rustc(cargo: Path) -> Path:
    """The rustc beside cargo (rustup and Debian both install them together)."""
    beside = cargo.with_name("rustc")
    return beside if beside.is_file() else Path(shutil.which("rustc") or "rustc")


def _run(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-15:])
        raise ReleaseError(f"{' '.join(command)} failed:\n{tail}")
    return result.stdout
