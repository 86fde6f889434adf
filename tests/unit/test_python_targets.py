"""Python targets: the wheels a host's interpreter accepts, as pip download options.

The pip tests download from the index (as the release tests do).
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fks_infra.distro import SUPPORTED
from fks_infra.releases import DEFAULT_TARGET, PythonTarget
from fks_infra.releases import python as python_builder

RELEASES = {distro.codename: distro for distro in SUPPORTED}


def _values(options: tuple[str, ...], flag: str) -> list[str]:
    return [options[i + 1] for i, option in enumerate(options) if option == flag]


@pytest.mark.parametrize(
    ("codename", "python", "abi", "glibc_minor"),
    [
        ("bookworm", "3.11", "cp311", 36),
        ("trixie", "3.13", "cp313", 41),
        ("jammy", "3.10", "cp310", 35),
        ("noble", "3.12", "cp312", 39),
    ],
)
def test_pip_options_of_each_release(
    codename: str, python: str, abi: str, glibc_minor: int
) -> None:
    target = PythonTarget.of(RELEASES[codename])
    assert target == PythonTarget(python, f"2.{glibc_minor}", "x86_64")
    assert target.tag == abi
    options = target.pip_options()
    assert options[:5] == (
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python,
    )
    assert _values(options, "--abi") == [abi, "abi3", "none"]
    platforms = _values(options, "--platform")
    # Every flag is followed by its value; nothing else is in there.
    assert len(options) == 5 + 2 * (3 + len(platforms))
    # Every manylinux_2_X the host's glibc covers (x86_64 had them from 2.5 on), newest first,
    # each legacy alias right after its glibc version; never a plain linux_x86_64.
    expected = []
    for minor in range(glibc_minor, 4, -1):
        expected.append(f"manylinux_2_{minor}_x86_64")
        expected += {17: ["manylinux2014_x86_64"], 12: ["manylinux2010_x86_64"]}.get(minor, [])
    expected.append("manylinux1_x86_64")
    assert platforms == expected
    assert str(target) == f"{abi}-manylinux_2_{glibc_minor}_x86_64"


def test_other_machines_start_at_manylinux2014() -> None:
    platforms = PythonTarget("3.13", "2.41", "aarch64").platforms
    assert platforms[0] == "manylinux_2_41_aarch64"
    assert platforms[-2:] == ("manylinux_2_17_aarch64", "manylinux2014_aarch64")
    assert len(platforms) == 41 - 17 + 2


@pytest.mark.parametrize(
    ("python", "glibc", "machine", "message"),
    [
        ("3", "2.36", "x86_64", "not 3.MINOR"),
        ("cp313", "2.36", "x86_64", "not 3.MINOR"),
        ("3.13", "2.16", "aarch64", "manylinux wheel tag"),
        ("3.13", "236", "x86_64", "manylinux wheel tag"),
        ("3.13", "2.41", "sparc", "is not one of"),
    ],
)
def test_invalid_targets_are_refused(python: str, glibc: str, machine: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PythonTarget(python, glibc, machine)


def test_default_target_is_debian_12() -> None:
    assert PythonTarget("3.11", "2.36", "x86_64") == DEFAULT_TARGET


def _wheel_with_requirements(directory: Path, requirements: list[str]) -> Path:
    wheel = directory / "demo-1.0-py3-none-any.whl"
    lines = "".join(f"Requires-Dist: {r}\n" for r in requirements)
    metadata = f"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n{lines}"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo-1.0.dist-info/METADATA", metadata)
    return wheel


def test_dependency_markers_are_the_targets(tmp_path: Path) -> None:
    wheel = _wheel_with_requirements(
        tmp_path,
        [
            "typing-extensions>=4; python_version < '3.11'",
            "audioop-lts; python_version >= '3.13'",
            "colorama; platform_system == 'Windows'",
            "uvloop; sys_platform == 'linux' and platform_python_implementation == 'CPython'",
            "httptools; extra == 'standard'",
        ],
    )

    def names(target: PythonTarget, extras: tuple[str, ...] = ()) -> list[str]:
        return [r.name for r in python_builder._requirements(wheel, target, extras)]

    assert names(PythonTarget("3.10", "2.35")) == ["typing-extensions", "uvloop"]
    assert names(PythonTarget("3.13", "2.41")) == ["audioop-lts", "uvloop"]
    assert names(PythonTarget("3.11", "2.36"), ("standard",)) == ["uvloop", "httptools"]


def _download(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(tmp_path),
         *options, "markupsafe==3.0.4"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(("codename", "abi"), [("bookworm", "cp311"), ("trixie", "cp313")])
def test_pip_downloads_the_compiled_wheel_for_the_target(
    tmp_path: Path, codename: str, abi: str
) -> None:
    done = _download(tmp_path, *PythonTarget.of(RELEASES[codename]).pip_options())
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (path.name for path in tmp_path.iterdir())
    assert wheel.startswith(f"markupsafe-3.0.4-{abi}-{abi}-")
    assert "manylinux" in wheel and wheel.endswith("_x86_64.whl")


def test_one_platform_tag_alone_finds_no_compiled_wheel(tmp_path: Path) -> None:
    # What the builder asked for before targets: pip takes --platform literally and widens
    # nothing, and MarkupSafe's wheels are manylinux_2_17/2_28 ones.
    done = _download(
        tmp_path, "--only-binary=:all:", "--implementation", "cp", "--python-version", "3.11",
        "--abi", "cp311", "--platform", "manylinux_2_36_x86_64",
    )  # fmt: skip
    assert done.returncode != 0
    assert "No matching distribution found for markupsafe" in done.stderr
