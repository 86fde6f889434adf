"""``checked_files`` as data: recorded facts in, commands out.

What matters is the order of the commands: no command may touch a live path before the
check of the candidate ran, and every command after the check needs the check's marker, so
a failing check (pyinfra stops an operation at its first failing command) leaves the live
files byte for byte as they were and never reloads the daemon.
"""

from __future__ import annotations

import hashlib
import re

from test_operations import commands

from fks_infra.operations import checked, factcache
from fks_infra.operations.facts import FileDigest
from fks_infra.paths import MANAGED_FILES, STATE_DIR, UPLOADS_DIR

MAIN = "/etc/nginx/nginx.conf"
SITE = "/etc/nginx/fks/site.conf"
FILES = {MAIN: "events {}\nhttp { include fks/site.conf; }\n", SITE: "server {}\n"}
CHECK = "nginx -t -q -c {candidate}/etc/nginx/nginx.conf"
ACTIVATE = "systemctl reload-or-restart nginx.service"
CANDIDATE = "/var/lib/fks-infra/candidates/nginx"
MARKER = f"{CANDIDATE}/.accepted"
PENDING = "/var/lib/fks-infra/nginx.pending"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def digest(text: str, mode: str = "644", user: str = "root") -> dict[str, str]:
    return {"sha256": sha(text), "mode": mode, "user": user, "group": "root"}


def facts(live: dict[str, dict[str, str] | None]) -> dict[object, object]:
    return {FileDigest: lambda path: live.get(path)}


def plan_commands(live: dict[str, dict[str, str] | None]) -> list[str]:
    return commands(
        checked.checked_files,
        facts(live),
        label="nginx",
        files=FILES,
        check=CHECK,
        activate=ACTIVATE,
    )


CONVERGED = {path: digest(text) for path, text in FILES.items()}


def test_converged_host_gets_no_command() -> None:
    assert plan_commands(CONVERGED) == []


def test_wrong_owner_or_mode_is_fixed_without_check_or_reload() -> None:
    live = {**CONVERGED, SITE: digest(FILES[SITE], mode="666", user="www-data")}
    assert plan_commands(live) == [f"chown root:root {SITE}", f"chmod 644 {SITE}"]


def test_a_changed_file_goes_through_candidate_check_install_and_reload() -> None:
    live = {**CONVERGED, SITE: digest("server { old }\n")}
    out = plan_commands(live)
    assert out == [
        f"rm -rf {CANDIDATE} && umask 022 && mkdir -p -m 700 {CANDIDATE}",
        f"umask 022 && mkdir -p -m 755 {CANDIDATE}/etc/nginx",
        f"umask 022 && mkdir -p -m 755 {CANDIDATE}/etc/nginx/fks",
        f"upload {CANDIDATE}{MAIN} via {UPLOADS_DIR}/deploy/{sha(FILES[MAIN])[:16]}.part",
        f"upload {CANDIDATE}{SITE} via {UPLOADS_DIR}/deploy/{sha(FILES[SITE])[:16]}.part",
        f"nginx -t -q -c {CANDIDATE}/etc/nginx/nginx.conf && touch {MARKER}",
        # The activation is pending from before the first file goes live...
        f"test -e {MARKER} && install -m 600 -o root -g root /dev/null {PENDING}",
        f"test -e {MARKER} && umask 022 && mkdir -p -m 755 /etc/nginx && install -m 644 -o root "
        f"-g root {CANDIDATE}{MAIN} {MAIN}.fks-new && mv -f {MAIN}.fks-new {MAIN}",
        f"test -e {MARKER} && umask 022 && mkdir -p -m 755 /etc/nginx/fks && install -m 644 -o "
        f"root -g root {CANDIDATE}{SITE} {SITE}.fks-new && mv -f {SITE}.fks-new {SITE}",
        # ...until it succeeded.
        f"test -e {MARKER} && {ACTIVATE} && rm -f {PENDING}",
        # Live and active: the candidates (some hold secrets) are removed.
        f"test -e {MARKER} && rm -rf {CANDIDATE}",
    ]


def test_missing_files_are_written_the_same_way() -> None:
    out = plan_commands({})
    assert any(line.startswith("nginx -t") for line in out)
    assert out[-2:] == [
        f"test -e {MARKER} && {ACTIVATE} && rm -f {PENDING}",
        f"test -e {MARKER} && rm -rf {CANDIDATE}",
    ]


def test_files_live_whose_activation_failed_are_activated_again() -> None:
    # An earlier run put the files live, then the reload failed (or the run died): the
    # files are right, the daemon still runs the old config. Only the activation is retried.
    assert plan_commands({**CONVERGED, PENDING: digest("")}) == [f"{ACTIVATE} && rm -f {PENDING}"]
    fixed = plan_commands({**CONVERGED, SITE: digest(FILES[SITE], mode="600"), PENDING: digest("")})
    assert fixed == [
        f"chown root:root {SITE}",
        f"chmod 644 {SITE}",
        f"{ACTIVATE} && rm -f {PENDING}",
    ]


def test_the_pending_marker_costs_a_converged_host_no_command() -> None:
    # It is one of the files the batched digests (read by every run) list.
    assert any(factcache.matches(PENDING, pattern) for pattern in MANAGED_FILES)
    assert PENDING.startswith(f"{STATE_DIR}/")


def live_paths_touched(line: str) -> list[str]:
    """Live paths a command writes: any live path not under the candidate directory."""
    outside = re.sub(re.escape(CANDIDATE) + r"\S*", "<candidate>", line)
    return [path for path in FILES if re.search(re.escape(path) + r"(\.fks-new)?\b", outside)]


def test_nothing_live_is_touched_before_the_check_passed() -> None:
    for live in ({}, {**CONVERGED, SITE: digest("old\n")}, {MAIN: None, SITE: None}):
        out = plan_commands(live)
        check_at = next(i for i, line in enumerate(out) if line.startswith("nginx -t"))
        before = out[:check_at]
        assert [line for line in before if live_paths_touched(line)] == []
        # A failing check stops the operation there: what ran is `before` plus the check,
        # so the live files and the running daemon are exactly as they were.
        assert not any("systemctl" in line for line in before)
        # Even a caller passing _continue_on_error cannot install an unchecked candidate:
        # every later command first requires the marker only a passed check writes.
        after = out[check_at + 1 :]
        assert after and all(line.startswith(f"test -e {MARKER} && ") for line in after)
        assert out[check_at].endswith(f"&& touch {MARKER}")


def test_the_candidate_set_is_fresh_every_time() -> None:
    out = plan_commands({})
    assert out[0] == f"rm -rf {CANDIDATE} && umask 022 && mkdir -p -m 700 {CANDIDATE}"


def test_files_go_live_by_rename_within_their_directory() -> None:
    out = plan_commands({})
    installs = [line for line in out if "install -m" in line and PENDING not in line]
    assert len(installs) == len(FILES)
    for line, path in zip(installs, FILES, strict=True):
        assert line.endswith(f"{path}.fks-new && mv -f {path}.fks-new {path}")


def test_the_live_path_detector_bites() -> None:
    assert live_paths_touched(f"mv -f {SITE}.fks-new {SITE}") == [SITE]
    assert live_paths_touched(f"upload {CANDIDATE}{SITE} via /x.part") == []
