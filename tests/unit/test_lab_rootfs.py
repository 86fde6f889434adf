"""The rootfs cache key and the cache's notion of a finished tree."""

from __future__ import annotations

from pathlib import Path

from fks_infra.lab.rootfs import BASE_PACKAGES, MARKER, is_complete, purge_cache, rootfs_id
from fks_infra.lab.spec import Release

BOOKWORM = Release("debian", "bookworm")


def test_id_names_the_release_and_is_stable() -> None:
    assert rootfs_id(BOOKWORM) == rootfs_id(BOOKWORM, tuple(reversed(BASE_PACKAGES)))
    assert rootfs_id(BOOKWORM).startswith("debian-bookworm-")


def test_id_changes_with_the_package_list_and_the_suite() -> None:
    assert rootfs_id(BOOKWORM) != rootfs_id(BOOKWORM, (*BASE_PACKAGES, "vim"))
    assert rootfs_id(BOOKWORM) != rootfs_id(Release("debian", "trixie"))


def test_the_base_has_what_the_lab_and_pyinfra_need() -> None:
    needed = {"systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "sudo",
              "ca-certificates", "curl", "iproute2"}  # fmt: skip
    assert needed <= set(BASE_PACKAGES)


def test_only_marked_trees_count_and_only_lab_entries_are_purged(tmp_path: Path) -> None:
    done = tmp_path / "debian-bookworm-aaaa"
    half = tmp_path / ".tmp-debian-bookworm-aaaa-99"
    foreign = tmp_path / "someone-elses"
    for directory in (done, half, foreign):
        (directory / "etc").mkdir(parents=True)
    (done / MARKER).write_text("debian:bookworm\n")
    assert is_complete(done) and not is_complete(half)
    assert purge_cache(tmp_path) == [half, done]
    assert foreign.is_dir() and not done.exists() and not half.exists()
