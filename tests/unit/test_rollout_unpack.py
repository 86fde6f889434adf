"""fks-rollout unpacks a release tarball as Python's ``filter="data"`` does, on both Pythons.

Debian 13's Python (3.13) has tarfile's extraction filters and fks-rollout uses
``tarfile.data_filter``; Debian 12's (3.11.2) has none, and fks-rollout applies its own copy of
that filter's rules. Every case runs through both paths (``filtered``: the library's filter,
``fallback``: the copy, forced by hiding the library's), so the two are held to one outcome:
modes and owners are normalised, and a member that would land outside the release, link out
of it, or be a device is refused with the release directory removed.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_rollout_pre_start import load_rollout

OTHER_UID = 4242  # an owner recorded in the tarball that is not the extracting user


@pytest.fixture(params=["filtered", "fallback"])
def rollout(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    module = load_rollout()
    if request.param == "fallback":
        monkeypatch.setattr(module, "DATA_FILTER", None)
    elif module.DATA_FILTER is None:
        pytest.skip("this Python's tarfile has no extraction filters")
    return module


Member = Callable[[tarfile.TarFile], None]


def regular(name: str, mode: int = 0o644, data: bytes = b"x") -> Member:
    def add(archive: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.mode, info.size, info.uid, info.gid = mode, len(data), OTHER_UID, OTHER_UID
        info.uname, info.gname = "mallory", "mallory"
        archive.addfile(info, io.BytesIO(data))

    return add


def special(name: str, kind: bytes, mode: int = 0o755, linkname: str = "") -> Member:
    def add(archive: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.linkname = kind, mode, linkname
        info.uid, info.gid = OTHER_UID, OTHER_UID
        archive.addfile(info)

    return add


def tarball(path: Path, *members: Member) -> Path:
    with tarfile.open(path, "w") as archive:
        for add in members:
            add(archive)
    return path


def test_setuid_and_world_writable_bits_are_dropped(rollout: Any, tmp_path: Path) -> None:
    release = tmp_path / "release"
    tar = tarball(
        tmp_path / "r.tar",
        special("bin", tarfile.DIRTYPE, mode=0o777),
        regular("bin/tool", mode=0o6777),
        regular("data.txt", mode=0o666),
        regular("secret", mode=0o040),  # no owner bits: the data filter gives rw to the owner
    )
    rollout.extract(tar, release)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((release / "bin").stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((release / "bin/tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((release / "data.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((release / "secret").stat().st_mode) == 0o640


def test_owners_in_the_tarball_are_not_applied(rollout: Any, tmp_path: Path) -> None:
    release = tmp_path / "release"
    tar = tarball(tmp_path / "r.tar", special("d", tarfile.DIRTYPE), regular("d/f"))
    rollout.extract(tar, release)
    for path in (release / "d", release / "d/f"):
        assert (path.stat().st_uid, path.stat().st_gid) == (os.geteuid(), os.getegid()), path


def test_links_inside_the_release_are_kept(rollout: Any, tmp_path: Path) -> None:
    release = tmp_path / "release"
    tar = tarball(
        tmp_path / "r.tar",
        regular("lib/real.py"),
        special("lib/alias.py", tarfile.SYMTYPE, linkname="real.py"),
        special("lib/hard.py", tarfile.LNKTYPE, linkname="lib/real.py"),
    )
    rollout.extract(tar, release)
    assert os.readlink(release / "lib/alias.py") == "real.py"
    assert (release / "lib/hard.py").stat().st_ino == (release / "lib/real.py").stat().st_ino


REFUSED = {
    "absolute path": [regular("/etc/cron.d/evil")],
    "dot-dot": [regular("../evil")],
    "dot-dot inside": [regular("bin/../../evil")],
    "symlink out": [special("escape", tarfile.SYMTYPE, linkname="../../etc")],
    "absolute symlink": [special("escape", tarfile.SYMTYPE, linkname="/etc/passwd")],
    "write through a symlink": [
        special("escape", tarfile.SYMTYPE, linkname=".."),
        regular("escape/evil"),
    ],
    "hardlink out": [special("escape", tarfile.LNKTYPE, linkname="../outside")],
    "character device": [special("dev/mem", tarfile.CHRTYPE)],
    "block device": [special("dev/sda", tarfile.BLKTYPE)],
    "fifo": [special("pipe", tarfile.FIFOTYPE)],
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_an_unsafe_member_refuses_the_release(rollout: Any, tmp_path: Path, case: str) -> None:
    (tmp_path / "outside").write_text("keep")
    home = tmp_path / "home"
    release = home / "releases" / "r1"
    tar = tarball(tmp_path / "r.tar", regular("ok.txt"), *REFUSED[case])
    with pytest.raises(rollout.RolloutError, match="unsafe member"):
        rollout.extract(tar, release)
    assert not (tmp_path / "evil").exists() and not (home / "evil").exists()
    assert (tmp_path / "outside").read_text() == "keep"


def test_a_refused_release_is_removed_from_disk(
    rollout: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    tar = tarball(tmp_path / "r.tar", regular("ok.txt"), special("dev/mem", tarfile.CHRTYPE))
    args = load_arguments(home, tar)
    assert rollout.rollout(args) == 1
    assert "release r1 refused: artifact" in capsys.readouterr().err
    assert not (home / "releases/r1").exists()


def load_arguments(home: Path, tar: Path) -> Any:
    from test_rollout_pre_start import arguments

    args = arguments(home, "r1")
    args.tarball = str(tar)
    args.tar_sha256 = load_rollout().sha256_of(tar)
    return args
