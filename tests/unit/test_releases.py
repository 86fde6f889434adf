"""Release builder: content-derived ids, reproducible files, caching, SHA-256 checks."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fks_infra.distro import SUPPORTED
from fks_infra.releases import (
    DEFAULT_DEMO_DIR,
    MANIFEST_NAME,
    VERIFY_SCRIPT,
    ArtifactSource,
    Behaviour,
    CheckoutSource,
    DemoSource,
    Language,
    PythonTarget,
    Release,
    ReleaseError,
    build_release,
    generate_demo_checkout,
    verify_manifest,
)
from fks_infra.releases import python as python_builder
from fks_infra.releases import rust as rust_builder

DEMO = DemoSource(DEFAULT_DEMO_DIR)
TARGETS = {distro.codename: PythonTarget.of(distro) for distro in SUPPORTED}


@pytest.fixture(scope="session")
def release_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same per-session cache as test_demo_services.py: one download, one cargo build."""
    return tmp_path_factory.getbasetemp() / "release-cache"


@pytest.fixture(scope="session")
def api(release_cache: Path) -> Release:
    return build_release("api", "python", DEMO, release_cache)


@pytest.fixture(scope="session")
def auth(release_cache: Path) -> Release:
    return build_release("auth", "rust", DEMO, release_cache)


@pytest.fixture(scope="session")
def api_trixie(release_cache: Path) -> Release:
    """The same source as ``api``, for Debian 13's Python 3.13 and glibc 2.41."""
    return build_release("api", "python", DEMO, release_cache, target=TARGETS["trixie"])


def _files(release: Release) -> dict[str, str]:
    return {f.path: f.sha256 for f in release.files}


def _copy(release: Release, destination: Path) -> Path:
    shutil.copytree(release.directory, destination)
    return destination


def test_python_release_is_a_complete_pinned_wheelhouse(api: Release) -> None:
    wheels = sorted(p.split("-")[0] for p in _files(api) if p.startswith("wheels/"))
    assert wheels == [
        "wheels/click",
        "wheels/fks_api",
        "wheels/fks_demo",
        "wheels/h11",
        "wheels/markupsafe",  # the demo's compiled dependency
        "wheels/uvicorn",
    ]
    requirements = (api.directory / "requirements.txt").read_text().splitlines()
    assert len(requirements) == len(wheels)
    assert all("==" in line and "--hash=sha256:" in line for line in requirements)
    assert api.command_for("127.0.0.1", 8001) == (
        "venv/bin/uvicorn",
        "fks_api.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        "8001",
        "--no-access-log",
    )


def test_the_demo_wheelhouse_holds_its_compiled_dependency_for_the_target(
    api: Release, api_trixie: Release
) -> None:
    for release, abi in ((api, "cp311"), (api_trixie, "cp313")):
        (wheel,) = (f.path for f in release.files if f.path.startswith("wheels/markupsafe-"))
        assert wheel.startswith(f"wheels/markupsafe-3.0.4-{abi}-{abi}-")
        assert "manylinux" in wheel and wheel.endswith("_x86_64.whl")


def test_two_targets_are_two_releases_and_two_cache_entries(
    api: Release, api_trixie: Release, release_cache: Path
) -> None:
    assert api.release_id.endswith("-cp311") and api_trixie.release_id.endswith("-cp313")
    assert api.release_id.split("-")[0] != api_trixie.release_id.split("-")[0]
    assert (api.target, api_trixie.target) == (
        "cp311-manylinux_2_36_x86_64",
        "cp313-manylinux_2_41_x86_64",
    )
    assert api.directory.parent == api_trixie.directory.parent == release_cache / "releases/api"
    assert api.directory != api_trixie.directory
    # One dependency download per target, each holding its own compiled wheel.
    downloads = {
        wheel.parent: wheel.name
        for wheel in (release_cache / "pip-deps").glob("*/markupsafe-*.whl")
        if wheel.name in {Path(f.path).name for f in (*api.files, *api_trixie.files)}
    }
    assert len(downloads) == 2
    # Only the dependency wheels for the interpreter differ: the service's own are the same.
    differ = {p for p, d in _files(api).items() if _files(api_trixie).get(p) != d}
    assert {p.split("-")[0] for p in differ if p.startswith("wheels/")} == {"wheels/markupsafe"}
    assert build_release("api", "python", DEMO, release_cache, target=TARGETS["trixie"]) == (
        api_trixie
    )


def test_dependencies_follow_the_targets_markers(release_cache: Path) -> None:
    # uvicorn needs typing-extensions on Python < 3.11 only; pip, running on this machine's
    # Python, would skip it for a 3.10 host.
    jammy = build_release("api", "python", DEMO, release_cache, target=TARGETS["jammy"])
    noble = build_release("api", "python", DEMO, release_cache, target=TARGETS["noble"])
    assert "wheels/typing_extensions-4.16.0-py3-none-any.whl" in _files(jammy)
    assert not any("typing_extensions" in path for path in _files(noble))
    assert jammy.release_id.endswith("-cp310") and noble.release_id.endswith("-cp312")


def test_a_rust_release_is_the_same_for_every_target(auth: Release, release_cache: Path) -> None:
    for target in TARGETS.values():
        assert build_release("auth", "rust", DEMO, release_cache, target=target) == auth
    assert auth.target is None
    assert "-" not in auth.release_id


def test_the_rust_binary_runs_on_every_supported_glibc(auth: Release) -> None:
    """One Rust release serves every host: the glibc symbol versions it needs (named in its
    dynamic string table, ``GLIBC_2.34``...) are all in the oldest supported release's."""
    binary = (auth.directory / "bin" / "fks_auth").read_bytes()
    needed = max(
        tuple(int(part) for part in version.split(b"."))
        for version in re.findall(rb"GLIBC_([0-9]+(?:\.[0-9]+)+)", binary)
    )
    oldest = min(tuple(int(part) for part in distro.glibc.split(".")) for distro in SUPPORTED)
    assert needed <= oldest, f"the binary needs glibc {needed}, the oldest host has {oldest}"


def test_requires_python_is_checked_for_the_target_not_this_machine(
    release_cache: Path, tmp_path: Path
) -> None:
    service = generate_demo_checkout(tmp_path, "api")
    pyproject = service / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('">=3.10"', '">=3.12"'))
    with pytest.raises(ReleaseError, match=r"requires Python >=3.12; the target cp311-.* 3.11"):
        build_release("api", "python", CheckoutSource(tmp_path), release_cache)
    # Built here on whatever Python this machine has, for a host that has 3.13.
    trixie = build_release(
        "api", "python", CheckoutSource(tmp_path), release_cache, target=TARGETS["trixie"]
    )
    assert trixie.release_id.endswith("-cp313")


def test_rust_release_is_one_executable_named_after_the_service(auth: Release) -> None:
    assert auth.command == ("bin/fks_auth",)
    assert auth.install == ()
    binary = next(f for f in auth.files if f.path == "bin/fks_auth")
    assert binary.executable


@pytest.mark.parametrize(("name", "language"), [("api", "python"), ("auth", "rust")])
def test_same_source_gives_same_id_and_same_bytes(
    release_cache: Path, tmp_path: Path, name: str, language: Language
) -> None:
    first = build_release(name, language, DEMO, release_cache)
    second = build_release(name, language, DEMO, tmp_path / "fresh-cache")
    assert second.release_id == first.release_id
    assert _files(second) == _files(first)
    assert second.manifest_sha256 == first.manifest_sha256


def test_cached_rebuild_does_no_work(
    api: Release, auth: Release, release_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a cached release was built again: {args}")

    monkeypatch.setattr(python_builder, "build_wheelhouse", no_work)
    monkeypatch.setattr(rust_builder, "build_binary", no_work)
    started = time.monotonic()
    assert build_release("api", "python", DEMO, release_cache) == api
    assert build_release("auth", "rust", DEMO, release_cache) == auth
    assert time.monotonic() - started < 2


def test_behaviour_is_a_different_release(api: Release, release_cache: Path) -> None:
    failing = build_release("api", "python", DEMO, release_cache, Behaviour.HEALTH_FAIL)
    assert failing.release_id != api.release_id
    changed = {p for p, digest in _files(failing).items() if _files(api).get(p) != digest}
    # Only the service's own wheel (and the pins and metadata naming it) differ.
    assert changed == {"wheels/fks_api-0.1.0-py3-none-any.whl", "requirements.txt", "release.json"}


def test_generated_checkout_builds_the_same_release_as_the_demo(
    api: Release, release_cache: Path, tmp_path: Path
) -> None:
    generate_demo_checkout(tmp_path, "api")
    from_checkout = build_release("api", "python", CheckoutSource(tmp_path), release_cache)
    assert from_checkout == api


@pytest.mark.parametrize("name, behaviour", [("api", None), ("data", Behaviour.HEALTH_FAIL)])
def test_demo_inputs_are_those_of_its_generated_checkout(
    name: str, behaviour: Behaviour | None, tmp_path: Path
) -> None:
    # A deploy digests the demo without writing a checkout; the digests must be the ones
    # of the checkout it builds from, or release ids would change.
    from fks_infra.releases.build import _checkout_trees, _demo_inputs
    from fks_infra.releases.tree import tree_digest

    generate_demo_checkout(tmp_path, name, behaviour)
    trees = _checkout_trees(tmp_path, name)
    assert _demo_inputs(name, behaviour, DEFAULT_DEMO_DIR) == [
        f"tree {project} {tree_digest(tree)}" for project, tree in sorted(trees.items())
    ]


def test_changed_checkout_gives_a_new_release(
    api: Release, release_cache: Path, tmp_path: Path
) -> None:
    service = generate_demo_checkout(tmp_path, "api")
    (service / "fks_api" / "extra.py").write_text("ANSWER = 42\n")
    changed = build_release("api", "python", CheckoutSource(tmp_path), release_cache)
    assert changed.release_id != api.release_id
    # Build output in a checkout is not an input: it changes nothing.
    (service / "build").mkdir()
    (service / "build" / "junk.txt").write_text("stale")
    assert build_release("api", "python", CheckoutSource(tmp_path), release_cache) == changed


def test_rust_checkout_crate_and_a_change_to_it(
    auth: Release, release_cache: Path, tmp_path: Path
) -> None:
    crate = tmp_path / "services" / "auth"
    shutil.copytree(DEFAULT_DEMO_DIR / "rust", crate, ignore=shutil.ignore_patterns("target"))
    unchanged = build_release("auth", "rust", CheckoutSource(tmp_path), release_cache)
    assert _files(unchanged)["bin/fks_auth"] == _files(auth)["bin/fks_auth"]
    main = crate / "src" / "main.rs"
    main.write_text(main.read_text().replace("shutting down", "stopping"))
    changed = build_release("auth", "rust", CheckoutSource(tmp_path), release_cache)
    assert changed.release_id != unchanged.release_id
    assert _files(changed)["bin/fks_auth"] != _files(auth)["bin/fks_auth"]


def test_artifact_directory_fills_in_missing_dependencies(
    api: Release, auth: Release, release_cache: Path, tmp_path: Path
) -> None:
    artifacts = tmp_path / "ci-output"
    artifacts.mkdir()
    for wheel in (api.directory / "wheels").glob("fks_*.whl"):  # no uvicorn: fetched here
        shutil.copy2(wheel, artifacts)
    shutil.copy2(auth.directory / "bin" / "fks_auth", artifacts)
    python = build_release("api", "python", ArtifactSource(artifacts), release_cache)
    rust = build_release("auth", "rust", ArtifactSource(artifacts), release_cache)
    wheel_files = {p: d for p, d in _files(api).items() if p.startswith("wheels/")}
    assert {p: d for p, d in _files(python).items() if p.startswith("wheels/")} == wheel_files
    assert _files(rust)["bin/fks_auth"] == _files(auth)["bin/fks_auth"]


def test_artifact_directory_without_the_service_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="no wheel of fks_api"):
        build_release("api", "python", ArtifactSource(tmp_path), tmp_path / "cache")
    with pytest.raises(ReleaseError, match="no binary fks_auth"):
        build_release("auth", "rust", ArtifactSource(tmp_path), tmp_path / "cache")


def test_checkout_of_another_project_is_refused(tmp_path: Path) -> None:
    generate_demo_checkout(tmp_path, "api")
    shutil.move(tmp_path / "services" / "api", tmp_path / "services" / "app")
    with pytest.raises(ReleaseError, match="builds fks-api, not fks_app"):
        build_release("app", "python", CheckoutSource(tmp_path), tmp_path / "cache")


def test_behaviour_needs_the_demo_and_names_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only a demo release"):
        build_release("api", "python", CheckoutSource(tmp_path), tmp_path, Behaviour.CRASH)
    with pytest.raises(ValueError, match="service name"):
        build_release("../api", "python", DEMO, tmp_path)


def test_a_valid_release_passes_every_check(api: Release, auth: Release) -> None:
    for release in (api, auth):
        assert verify_manifest(release.directory, release.manifest_sha256) == []
        sums = subprocess.run(
            ["sha256sum", "--check", "--strict", "--quiet", MANIFEST_NAME],
            cwd=release.directory,
            capture_output=True,
            check=False,
        )
        assert sums.returncode == 0, sums.stderr


def _host_check(
    directory: Path, manifest_sha256: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The standalone script as a host runs it: isolated mode, no fks_infra importable."""
    extra = ["--manifest-sha256", manifest_sha256] if manifest_sha256 else []
    return subprocess.run(
        [sys.executable, "-I", str(VERIFY_SCRIPT), str(directory), *extra],
        capture_output=True,
        text=True,
        check=False,
    )


def test_tampered_file_is_rejected(api: Release, tmp_path: Path) -> None:
    shipped = _copy(api, tmp_path / "release")
    wheel = next((shipped / "wheels").glob("uvicorn-*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    assert verify_manifest(shipped) == [f"wheels/{wheel.name}: SHA-256 mismatch"]
    result = _host_check(shipped)
    assert result.returncode == 1
    assert "SHA-256 mismatch" in result.stderr
    sums = subprocess.run(["sha256sum", "-c", "--quiet", MANIFEST_NAME], cwd=shipped, check=False)
    assert sums.returncode != 0


def test_planted_and_missing_files_are_rejected(
    auth: Release, api: Release, tmp_path: Path
) -> None:
    shipped = _copy(api, tmp_path / "release")
    (shipped / "wheels" / "evil-1.0-py3-none-any.whl").write_bytes(b"not a wheel")
    (shipped / "requirements.txt").unlink()
    (shipped / "venv").mkdir()  # what the host's install creates is not a release file
    (shipped / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert verify_manifest(shipped) == [
        "requirements.txt: missing",
        "wheels/evil-1.0-py3-none-any.whl: not in SHA256SUMS",
    ]
    assert _host_check(shipped).returncode == 1


def test_rewritten_manifest_is_rejected_with_the_expected_digest(
    auth: Release, tmp_path: Path
) -> None:
    shipped = _copy(auth, tmp_path / "release")
    binary = shipped / "bin" / "fks_auth"
    binary.write_bytes(b"#!/bin/sh\necho pwned\n")
    sums = subprocess.run(
        ["sha256sum", "bin/fks_auth", "release.json"], cwd=shipped, capture_output=True, check=True
    )
    (shipped / MANIFEST_NAME).write_bytes(sums.stdout)
    assert verify_manifest(shipped) == []  # consistent on its own, so...
    problems = verify_manifest(shipped, auth.manifest_sha256)  # ...pin the manifest itself
    assert len(problems) == 1
    assert "not the expected one" in problems[0]
    assert _host_check(shipped, auth.manifest_sha256).returncode == 1


def test_damaged_cache_entry_is_rebuilt(api: Release, release_cache: Path) -> None:
    wheel = next((api.directory / "wheels").glob("fks_api-*.whl"))
    wheel.write_bytes(b"damaged")
    rebuilt = build_release("api", "python", DEMO, release_cache)
    assert rebuilt == api
    assert verify_manifest(rebuilt.directory, api.manifest_sha256) == []


def test_a_deploy_ships_each_host_the_release_for_its_target(
    api: Release,
    api_trixie: Release,
    auth: Release,
    release_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fks_infra.catalogue import CATALOGUE
    from fks_infra.services import shipping

    built: list[tuple[str, PythonTarget]] = []

    def build_into_test_cache(
        name: str,
        language: Language,
        source: DemoSource,
        cache_dir: Path | None,
        behaviour: Behaviour | None,
        target: PythonTarget,
    ) -> Release:
        built.append((name, target))
        return build_release(name, language, source, release_cache, behaviour, target)

    monkeypatch.setattr(shipping, "_shipments", {})
    monkeypatch.setattr(shipping, "build_release", build_into_test_cache)
    bookworm = shipping.shipment(CATALOGUE["api"], "demo", TARGETS["bookworm"])
    trixie = shipping.shipment(CATALOGUE["api"], "demo", TARGETS["trixie"])
    assert (bookworm.release, trixie.release) == (api, api_trixie)
    assert bookworm.sha256 != trixie.sha256
    # A Rust release is one for every host: built once, one tarball.
    rust = {shipping.shipment(CATALOGUE["auth"], "demo", t) for t in TARGETS.values()}
    assert [shipped.release for shipped in rust] == [auth]
    assert [name for name, _ in built] == ["api", "api", "auth"]
    assert shipping.shipment(CATALOGUE["api"], "demo", TARGETS["trixie"]) is trixie


#: Secrets a control machine may hold in its environment while it builds releases.
HELD = {
    "FKS_SECRET_POSTGRES_PASSWORD": "canary-pg",
    "FKS_SECRET_ALERTMANAGER_WEBHOOK_URL": "https://hooks.example.org/canary-hook",
    "AUTH_SECRET": "canary-auth",
    "PGPASSWORD": "canary-pgpass",
}
#: A program standing in for cargo or python: writes its environment, then acts as needed.
RECORDER = """#!/bin/sh
env > "$FKS_TEST_ENV_DIR/$(basename "$0")-$$.env"
case "$*" in
  *metadata*) echo '{"packages": [{"targets": [{"name": "fks_auth", "kind": ["bin"]}]}]}' ;;
  *build*) mkdir -p "$CARGO_TARGET_DIR/release" && : > "$CARGO_TARGET_DIR/release/fks_auth" ;;
  *-vV*) echo "rustc 0.0.0-recorder" ;;
esac
"""


def _recorder(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(RECORDER)
    path.chmod(0o755)
    return path


def _recorded(tmp_path: Path) -> str:
    seen = sorted((tmp_path / "envs").glob("*.env"))
    assert seen, "the recorder never ran"
    return "".join(path.read_text() for path in seen)


@pytest.fixture
def held_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "envs").mkdir()
    monkeypatch.setenv("FKS_TEST_ENV_DIR", str(tmp_path / "envs"))
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.example.org/simple")  # pip's own: kept
    for name, value in HELD.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("held_secrets")
def test_cargo_and_rustc_get_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cargo = _recorder(tmp_path, "cargo")
    _recorder(tmp_path, "rustc")
    monkeypatch.setenv("CARGO", str(cargo))
    rust_builder._rustc_version.cache_clear()
    crate = tmp_path / "crate"
    crate.mkdir()
    (crate / "Cargo.toml").write_text("[package]\nname = 'auth'\n")
    assert rust_builder.toolchain_identity(cargo) == "rustc 0.0.0-recorder\n"
    rust_builder.build_binary(crate, "auth", None, True, tmp_path / "release", tmp_path / "t")
    rust_builder._rustc_version.cache_clear()
    recorded = _recorded(tmp_path)
    assert "canary" not in recorded and "FKS_SECRET_" not in recorded
    assert "PIP_INDEX_URL=https://pypi.example.org/simple" in recorded


@pytest.mark.usefixtures("held_secrets")
def test_pip_gets_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(_recorder(tmp_path, "python3")))
    python_builder._pip("download", "--no-deps", "fks-nothing")
    recorded = _recorded(tmp_path)
    assert "canary" not in recorded and "FKS_SECRET_" not in recorded
    assert "PIP_INDEX_URL=https://pypi.example.org/simple" in recorded
    assert "SOURCE_DATE_EPOCH=" in recorded
