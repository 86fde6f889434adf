"""Python releases: a wheelhouse holding the service wheel and its whole dependency closure.

Hosts have no index access, so everything a host installs is fetched here once,
for the host's interpreter and platform (a ``PythonTarget``) rather than the control
machine's.
"""

from __future__ import annotations

import email.message
import email.parser
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Collection, Mapping
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from fks_infra.releases.manifest import sha256_file
from fks_infra.releases.model import ReleaseError
from fks_infra.releases.target import PythonTarget
from fks_infra.releases.tree import copy_tree, tree_digest
from fks_infra.secrets import without_secrets

# pip download: how many times the closure may grow by a dependency pip skipped for its
# own interpreter's markers before the builder gives up (each round is one pip run).
MAX_DOWNLOAD_ROUNDS = 10
# Zip timestamps in wheels come from here: fixed, so rebuilding gives the same bytes.
SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, the earliest time a zip can store

WHEELS_DIR = "wheels"
REQUIREMENTS = "requirements.txt"


def normalize(name: str) -> str:
    """PEP 503 project name, so ``Fks-Demo`` and ``fks_demo`` are one project (``packaging``'s
    ``canonicalize_name``, the rule pip itself applies)."""
    return str(canonicalize_name(name))


def project_name(tree: Path) -> str:
    """The normalized distribution name a source tree builds (pyproject, else folder name)."""
    pyproject = tree / "pyproject.toml"
    if pyproject.is_file():
        name = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name")
        if isinstance(name, str):
            return normalize(name)
    return normalize(tree.name)


def build_wheelhouse(
    root_project: str,
    trees: Mapping[str, Path],
    wheels: Mapping[str, Path],
    release_dir: Path,
    cache_dir: Path,
    target: PythonTarget,
) -> None:
    """Fill ``release_dir`` with ``wheels/`` and a hash-pinned ``requirements.txt``.

    + root_project: the service's distribution (``fks_<name>``)
    + trees: local source trees by normalized project name, built only if needed
    + wheels: prebuilt local wheels by normalized project name
    + target: the hosts' interpreter and platform; dependencies are the ones it needs
    Requirements that no local tree or wheel provides are downloaded from the index.
    """
    wheel_dir = release_dir / WHEELS_DIR
    wheel_dir.mkdir(parents=True)
    pending = [normalize(root_project)]
    chosen: set[str] = set()
    external: list[Requirement] = []
    with tempfile.TemporaryDirectory(prefix="fks-wheel-") as scratch:
        while pending:
            project = pending.pop()
            if project in chosen:
                continue
            if project in wheels:
                wheel = wheels[project]
            elif project in trees:
                wheel = _build_wheel(trees[project], Path(scratch) / project, cache_dir)
            else:
                raise ReleaseError(f"no source tree or wheel provides {project}")
            _check_requires_python(wheel, target)
            chosen.add(project)
            shutil.copy2(wheel, wheel_dir / wheel.name)
            for requirement in _requirements(wheel, target):
                name = normalize(requirement.name)
                if name in wheels or name in trees:
                    pending.append(name)
                else:
                    external.append(requirement)
    if external:
        for wheel in _download(external, target, cache_dir).iterdir():
            if normalize(_wheel_name(wheel)[0]) not in chosen:
                shutil.copy2(wheel, wheel_dir / wheel.name)
    _write_requirements(wheel_dir, release_dir / REQUIREMENTS)


def _build_wheel(tree: Path, scratch: Path, cache_dir: Path) -> Path:
    """Build one wheel from a clean copy of ``tree`` with a fixed timestamp.

    Wheels are cached by the tree's digest: a library shared by many services
    (fks_demo for the demo) is built once, not once per service. The wheel is for the
    hosts, so this machine's Python need not be one its Requires-Python allows: the
    target's is checked (``_check_requires_python``).
    """
    done = cache_dir / "wheels" / tree_digest(tree)[:16]
    if not done.is_dir():
        staged = copy_tree(tree, scratch / "src")
        out = scratch / "out"
        _pip("wheel", "--no-deps", "--ignore-requires-python", "--wheel-dir", str(out), str(staged))
        done.parent.mkdir(parents=True, exist_ok=True)
        try:
            out.rename(done)
        except OSError:
            if not done.is_dir():  # unless a concurrent build stored the same wheel first
                raise
    built = sorted(done.glob("*.whl"))
    if len(built) != 1:
        raise ReleaseError(f"building {tree} gave {len(built)} wheels, expected one")
    return built[0]


def _download(requirements: list[Requirement], target: PythonTarget, cache_dir: Path) -> Path:
    """Download the closure of ``requirements`` for ``target``, once per requirement set.

    The cache key covers the requirements and the target, so services sharing pinned
    dependencies (all demo services do) share one download, and each target has its own.

    pip resolves, but evaluates dependency markers against its own interpreter, not the
    target's: a dependency only the target needs (``typing-extensions; python_version <
    "3.11"`` for a 3.10 host, built here on 3.11) would be missing. So the builder walks the
    closure with the target's markers, asks pip again with what it skipped, and leaves out
    what only pip's own interpreter needed.
    """
    asked = sorted({_unmarked(r) for r in requirements})
    key_lines = ["closure/2", *asked, *target.pip_options()]  # closure/2: target markers
    key = hashlib.sha256("\n".join(key_lines).encode()).hexdigest()[:16]
    done = cache_dir / "pip-deps" / key
    if done.is_dir():
        return done
    done.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=done.parent))
    try:
        for _ in range(MAX_DOWNLOAD_ROUNDS):
            shutil.rmtree(partial / "wheels", ignore_errors=True)
            _pip("download", "--dest", str(partial / "wheels"), *target.pip_options(), *asked)
            found = local_wheels(partial / "wheels")
            needed, missing = _closure(requirements, found, target)
            if not missing:
                break
            asked = sorted(set(asked) | {_unmarked(r) for r in missing})
        else:
            raise ReleaseError(
                f"the dependencies of {', '.join(asked)} for {target} did not settle "
                f"in {MAX_DOWNLOAD_ROUNDS} pip runs"
            )
        for project, wheel in found.items():
            if project not in needed:
                wheel.unlink()  # needed by pip's own interpreter only
        (partial / "wheels").rename(done)
    except OSError:
        if not done.is_dir():  # unless another build finished the same download first
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return done


def _closure(
    roots: list[Requirement], found: Mapping[str, Path], target: PythonTarget
) -> tuple[set[str], list[Requirement]]:
    """The projects of ``found`` that ``roots`` need on ``target``, and the requirements
    ``found`` has no wheel for."""
    needed: set[str] = set()
    missing: list[Requirement] = []
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = list(roots)
    while pending:
        requirement = pending.pop()
        project = normalize(requirement.name)
        if (project, frozenset(requirement.extras)) in seen:
            continue
        seen.add((project, frozenset(requirement.extras)))
        if project not in found:
            missing.append(requirement)
            continue
        needed.add(project)
        pending.extend(_requirements(found[project], target, requirement.extras))
    return needed, missing


def _unmarked(requirement: Requirement) -> str:
    """The requirement without its marker: it was evaluated for the target already."""
    bare = Requirement(str(requirement))
    bare.marker = None
    return str(bare)


def _pip(*args: str) -> None:
    """Run the control machine's pip with its own configuration (CA bundle, constraints),
    in an environment without fks-infra's secrets (``without_secrets``): a package's build
    backend runs code of its own."""
    env = {**without_secrets(os.environ), "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    command = [sys.executable, "-m", "pip", *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise ReleaseError(f"pip {args[0]} failed ({' '.join(command)}):\n{tail}")


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.HeaderParser().parsestr(archive.read(metadata).decode())


def _requirements(
    wheel: Path, target: PythonTarget, extras: Collection[str] = ()
) -> list[Requirement]:
    """Requires-Dist of a wheel that apply on ``target``, with the given extras (a service
    itself is installed with none)."""
    environment = target.marker_environment()
    found = []
    for line in _metadata(wheel).get_all("Requires-Dist") or []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise ReleaseError(f"{wheel.name} has a requirement pip cannot read: {error}") from None
        marker = requirement.marker
        if marker is None or any(
            marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras)
        ):
            found.append(requirement)
    return found


def _check_requires_python(wheel: Path, target: PythonTarget) -> None:
    """Refuse a local wheel the target's interpreter would not install (pip checks the
    downloaded ones itself)."""
    wanted = _metadata(wheel).get("Requires-Python")
    if wanted and not SpecifierSet(wanted).contains(f"{target.python}.0", prereleases=True):
        raise ReleaseError(
            f"{wheel.name} requires Python {wanted}; the target {target} has Python {target.python}"
        )


def _wheel_name(wheel: Path) -> tuple[str, str]:
    """Distribution name and version from a wheel file name (PEP 427)."""
    parts = wheel.name.split("-")
    if len(parts) < 5 or not wheel.name.endswith(".whl"):
        raise ReleaseError(f"{wheel.name} is not a wheel file name")
    return parts[0], parts[1]


def _write_requirements(wheel_dir: Path, path: Path) -> None:
    """Pin every wheel by version and hash: the host's pip then installs exactly these."""
    lines = []
    for wheel in sorted(wheel_dir.glob("*.whl")):
        name, version = _wheel_name(wheel)
        lines.append(f"{name}=={version} --hash=sha256:{sha256_file(wheel)}\n")
    path.write_text("".join(lines), encoding="utf-8")


def local_wheels(directory: Path) -> dict[str, Path]:
    """Wheels in ``directory`` by normalized project name; two of one project is an error."""
    found: dict[str, Path] = {}
    for wheel in sorted(directory.glob("*.whl")):
        project = normalize(_wheel_name(wheel)[0])
        if project in found:
            raise ReleaseError(f"{directory} holds two wheels of {project}: pick one")
        found[project] = wheel
    return found


def install_commands() -> tuple[tuple[str, ...], ...]:
    """What a host runs in the release directory: a private venv, filled offline."""
    return (
        ("python3", "-m", "venv", "venv"),
        (
            "venv/bin/pip",
            "install",
            "--no-index",
            "--find-links",
            WHEELS_DIR,
            "--only-binary=:all:",
            "--require-hashes",
            "-r",
            REQUIREMENTS,
        ),
    )


def start_command(name: str, host: str, port: str) -> tuple[str, ...]:
    """uvicorn serving ``fks_<name>.main:app``, as the original services were started.

    The app logs each request itself, so uvicorn's access log would only repeat it.
    """
    return (
        "venv/bin/uvicorn",
        f"fks_{name}.main:app",
        "--host",
        host,
        "--port",
        port,
        "--no-access-log",
    )
