"""Build a release of one service on the control machine, cached by release id.

The release id is a short SHA-256 over everything that decides the artifact (the
source files, the target, the compiler, the baked-in behaviour); a Python release's id
also names its target's interpreter (``-cp313``). Building an
unchanged source again returns the cached release without doing the work, and a
deploy of it finds nothing to change on the host.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from fks_infra.releases import python, rust
from fks_infra.releases.demo import demo_lib, demo_service_files, generate_demo_checkout
from fks_infra.releases.manifest import (
    MANIFEST_NAME,
    read_manifest,
    sha256_file,
    verify_manifest,
    write_manifest,
)
from fks_infra.releases.model import (
    HOST_PLACEHOLDER,
    PORT_PLACEHOLDER,
    ArtifactSource,
    Behaviour,
    DemoSource,
    Language,
    Release,
    ReleaseError,
    ReleaseFile,
    Source,
)
from fks_infra.releases.target import DEFAULT_TARGET, PythonTarget
from fks_infra.releases.tree import entries_digest, tree_digest

# Bump when the builder's output changes for the same inputs, so old ids are not reused.
BUILDER_FORMAT = "fks-release/2"
RELEASE_JSON = "release.json"
#: Built releases, kept between runs: ``$XDG_CACHE_HOME/fks-infra/releases`` (the XDG Base
#: Directory default ``~/.cache`` when unset), outside any checkout or installed package.
DEFAULT_CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / (
    "fks-infra/releases"
)
ID_LENGTH = 16

_SERVICE_NAME = re.compile(r"[a-z][a-z0-9_]*")
Builder = Callable[[Path], None]


def build_release(
    name: str,
    language: Language,
    source: Source,
    cache_dir: Path | None = None,
    behaviour: Behaviour | None = None,
    target: PythonTarget = DEFAULT_TARGET,
) -> Release:
    """Build (or find in the cache) the release of service ``name`` from ``source``.

    + name: the service name of the catalogue (``api``); the artifact is ``fks_<name>``
    + language: ``python`` or ``rust``
    + source: DemoSource, CheckoutSource or ArtifactSource
    + cache_dir: where releases are kept (default ``DEFAULT_CACHE_DIR``)
    + behaviour: a fault to bake in; only the demo can do that
    + target: the hosts' Python and platform (default: Debian 12's). A Python release is
      built once per target and its id ends in the target's tag (``-cp313``); a Rust
      release does not depend on it

    Example: ``build_release("api", "python", DemoSource(DEFAULT_DEMO_DIR),
    target=PythonTarget.of(distro))``
    """
    if not _SERVICE_NAME.fullmatch(name):
        raise ValueError(f"service name {name!r} must match {_SERVICE_NAME.pattern}")
    if behaviour is not None and not isinstance(source, DemoSource):
        raise ValueError("only a demo release can have a baked-in behaviour")
    cache = (cache_dir or DEFAULT_CACHE_DIR).resolve()
    with tempfile.TemporaryDirectory(prefix="fks-release-") as scratch:
        if language == "python":
            inputs, builder = _plan_python(name, source, behaviour, Path(scratch), cache, target)
            built_for: PythonTarget | None = target
        elif language == "rust":
            inputs, builder = _plan_rust(name, source, behaviour, cache)
            built_for = None
        else:
            raise ValueError(f"language must be 'python' or 'rust', not {language!r}")
        header = [
            BUILDER_FORMAT,
            f"name={name}",
            f"language={language}",
            f"behaviour={behaviour.value if behaviour else ''}",
        ]
        release_id = hashlib.sha256("\n".join(header + inputs).encode()).hexdigest()[:ID_LENGTH]
        if built_for is not None:
            release_id += f"-{built_for.tag}"  # which interpreter it is for, at a glance
        final = cache / "releases" / name / release_id
        if final.is_dir() and (final / RELEASE_JSON).is_file() and not verify_manifest(final):
            return load_release(final)
        shutil.rmtree(final, ignore_errors=True)  # an incomplete or damaged cache entry
        _build_into(final, builder, name, language, release_id, built_for)
    return load_release(final)


def load_release(directory: Path) -> Release:
    """Read a built release back from its directory (release.json and SHA256SUMS)."""
    meta = json.loads((directory / RELEASE_JSON).read_text(encoding="utf-8"))
    files = tuple(
        ReleaseFile(path, digest, (directory / path).stat().st_mode & 0o111 != 0)
        for path, digest in sorted(read_manifest(directory).items())
    )
    return Release(
        name=meta["name"],
        language=meta["language"],
        release_id=meta["release_id"],
        directory=directory,
        files=files,
        manifest_sha256=sha256_file(directory / MANIFEST_NAME),
        command=tuple(meta["command"]),
        install=tuple(tuple(step) for step in meta["install"]),
        target=meta.get("target"),
    )


def _build_into(
    final: Path,
    builder: Builder,
    name: str,
    language: Language,
    release_id: str,
    target: PythonTarget | None,
) -> None:
    """Build in a private directory, then rename it into place: no reader sees half a release."""
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{release_id}-", dir=final.parent))
    try:
        builder(partial)
        if language == "python":
            command = python.start_command(name, HOST_PLACEHOLDER, PORT_PLACEHOLDER)
            install = python.install_commands()
        else:
            command, install = (f"{rust.BIN_DIR}/fks_{name}",), ()
        meta = {
            "format": BUILDER_FORMAT,
            "name": name,
            "language": language,
            "release_id": release_id,
            "command": command,
            "install": install,
            "target": str(target) if target else None,
        }
        (partial / RELEASE_JSON).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        write_manifest(partial)
        partial.chmod(0o755)
        partial.rename(final)
    except OSError:
        if not final.is_dir():  # unless a concurrent build of the same id won the race
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _plan_python(
    name: str,
    source: Source,
    behaviour: Behaviour | None,
    scratch: Path,
    cache: Path,
    target: PythonTarget,
) -> tuple[list[str], Builder]:
    """Inputs and builder of a Python release; a demo's checkout is generated to build it."""
    project = python.normalize(f"fks_{name}")
    for_target = [f"target={' '.join(target.pip_options())}"]
    if isinstance(source, ArtifactSource):
        wheels = python.local_wheels(source.directory)
        if project not in wheels:
            raise ReleaseError(f"{source.directory} has no wheel of fks_{name}")
        inputs = [f"wheel {w.name} {sha256_file(w)}" for w in wheels.values()]
        return for_target + inputs, lambda out: python.build_wheelhouse(
            project, {}, wheels, out, cache, target
        )
    if isinstance(source, DemoSource):
        demo, checkout = source.demo_dir, scratch / "checkout"
        inputs = _demo_inputs(name, behaviour, demo)
        return for_target + inputs, lambda out: _build_demo(
            name, behaviour, demo, checkout, out, cache, target
        )
    trees = _checkout_trees(source.root, name)
    inputs = _tree_inputs({p: tree_digest(tree) for p, tree in trees.items()})
    return for_target + inputs, lambda out: python.build_wheelhouse(
        project, trees, {}, out, cache, target
    )


def _checkout_trees(root: Path, name: str) -> dict[str, Path]:
    """The source trees a Python service's release is built from: its own, and ``libs/*``."""
    project = python.normalize(f"fks_{name}")
    service = root / "services" / name
    if not service.is_dir():
        raise ReleaseError(f"no source tree for {name}: {service} does not exist")
    if python.project_name(service) != project:
        raise ReleaseError(f"{service} builds {python.project_name(service)}, not fks_{name}")
    libs = sorted(p for p in (root / "libs").glob("*") if p.is_dir())
    trees = {python.project_name(lib): lib for lib in libs}
    trees[project] = service
    return trees


def _demo_inputs(name: str, behaviour: Behaviour | None, demo_dir: Path) -> list[str]:
    """The inputs of a demo release, exactly as of its generated checkout, without writing
    it: a deploy needs them on every run, the checkout only when the release is not built."""
    files = demo_service_files(name, behaviour, demo_dir)
    service = entries_digest(
        (path, hashlib.sha256(text.encode()).hexdigest(), False) for path, text in files.items()
    )
    lib = demo_lib(demo_dir)
    return _tree_inputs(
        {python.project_name(lib): tree_digest(lib), python.normalize(f"fks_{name}"): service}
    )


def _tree_inputs(digests: dict[str, str]) -> list[str]:
    """Release-id inputs of source trees, by project name: one line each, in name order."""
    return [f"tree {project} {digest}" for project, digest in sorted(digests.items())]


def _build_demo(
    name: str,
    behaviour: Behaviour | None,
    demo_dir: Path,
    root: Path,
    out: Path,
    cache: Path,
    target: PythonTarget,
) -> None:
    generate_demo_checkout(root, name, behaviour, demo_dir)
    trees = _checkout_trees(root, name)  # the same trees _demo_inputs digested
    python.build_wheelhouse(python.normalize(f"fks_{name}"), trees, {}, out, cache, target)


def _plan_rust(
    name: str, source: Source, behaviour: Behaviour | None, cache: Path
) -> tuple[list[str], Builder]:
    """Inputs and builder of a Rust release: crate files plus the compiler's identity."""
    if isinstance(source, ArtifactSource):
        binary = source.directory / f"fks_{name}"
        if not binary.is_file():
            raise ReleaseError(f"{source.directory} has no binary fks_{name}")
        return [f"binary {sha256_file(binary)}"], lambda out: rust.copy_binary(binary, name, out)
    if isinstance(source, DemoSource):
        crate, offline = source.demo_dir / "rust", True
    else:
        crate, offline = source.root / "services" / name, False
    if not (crate / "Cargo.toml").is_file():
        raise ReleaseError(f"no crate for {name}: {crate / 'Cargo.toml'} does not exist")
    crate_key = hashlib.sha256(str(crate.resolve()).encode()).hexdigest()[:12]
    target_root = cache / "cargo-target" / crate_key
    inputs = [f"crate {tree_digest(crate)}", f"rustc {rust.toolchain_identity(rust.find_cargo())}"]
    return inputs, lambda out: rust.build_binary(crate, name, behaviour, offline, out, target_root)
