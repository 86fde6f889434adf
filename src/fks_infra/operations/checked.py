"""Config files that go live only after the program reading them accepted them.

pyinfra has no ``validate=`` for templates: ``files.template`` writes the live file, and a
broken nginx, nftables or sshd config is live before anyone checked it. ``checked_files``
writes a candidate copy of every file elsewhere, runs the program's own check on it, and
only then moves the files live (each atomically) and activates them (reload).

A failing check ends the operation with the program's message; the live files are never
touched and the running daemon keeps its old config. After a successful activation the
candidate directory is removed (some candidates hold secrets). The commands after the check also
require the check's marker file, so they cannot run after a failed check even with
``_continue_on_error``.

An activation can still fail after the files went live (``nginx`` not running and refusing
to start, ``nft -f`` refused by the kernel), or the run can die between the two. The set's
``pending_marker``, written before the files go live and removed only by a successful
activation, makes the next run activate them again, though their content is already right.
Directories are made with explicit modes (``directory_command``), whatever the umask of the
operator's login and sudo.
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
from collections.abc import Generator, Mapping
from io import BytesIO

from pyinfra.api.command import FileUploadCommand

from fks_infra.operations.commands import argv
from fks_infra.operations.factcache import file_digest, host_operation
from fks_infra.operations.files import (
    activate_command,
    directory_command,
    mark_pending_command,
    pending_marker,
    upload_path,
)
from fks_infra.paths import CANDIDATES_DIR

#: Written into the candidate directory by a passed check.
ACCEPTED = ".accepted"


def candidate_dir(name: str) -> str:
    return f"{CANDIDATES_DIR}/{name}"


def candidate_path(name: str, live_path: str) -> str:
    """Where the candidate of ``live_path`` is written: the live path under the candidate dir."""
    return f"{candidate_dir(name)}{live_path}"


@host_operation
def checked_files(
    label: str,
    files: Mapping[str, str],
    check: str,
    activate: str,
    mode: str = "644",
    group: str = "root",
) -> Generator[object, None, None]:
    """Put a set of config files live, only after a check of the candidate set passed.

    + label: short name of the set (``nginx``); the candidate directory is named after it
    + files: {live path: content}; every file is owned by root with ``mode``
    + check: shell command that checks the candidate set, ``{candidate}`` standing for the
      candidate directory, e.g. ``nginx -t -c {candidate}/etc/nginx/nginx.conf``
    + activate: shell command run after the files went live (``systemctl reload nginx``)
    + mode: the files' mode
    + group: the files' group (owner is root): a daemon's group where it must read a
      root-only file (redis.conf holds the password)

    Nothing happens when every live file already has its content, owner and mode and no
    activation is pending; a file with the right content and the wrong owner or mode is only
    fixed, not re-activated. Files that went live in an earlier run whose activation failed
    (the set's ``pending_marker`` is there) are activated again.

    .. code:: python

        checked_files(
            name="Render nginx config",
            label="nginx",
            files={"/etc/nginx/nginx.conf": text},
            check="nginx -t -c {candidate}/etc/nginx/nginx.conf",
            activate="systemctl reload-or-restart nginx.service",
        )
    """
    wanted = {path: hashlib.sha256(text.encode()).hexdigest() for path, text in files.items()}
    current: dict[str, dict[str, str]] = {}
    for path in files:
        digest = file_digest(path)
        if digest and digest["sha256"] == wanted[path]:
            current[path] = digest
    pending = pending_marker(label)
    if len(current) == len(files):
        for path, digest in current.items():
            if (digest["mode"], digest["user"], digest["group"]) != (mode, "root", group):
                yield argv("chown", f"root:{group}", path)
                yield argv("chmod", mode, path)
        if file_digest(pending) is not None:
            yield activate_command(activate, pending)
        return

    directory = candidate_dir(label)
    quoted = shlex.quote(directory)
    # A fresh candidate set every time: no file of an earlier attempt is checked or installed.
    yield f"rm -rf {quoted} && {directory_command(directory, '700')}"
    for path in sorted({posixpath.dirname(candidate_path(label, p)) for p in files}):
        yield directory_command(path)
    for path, text in files.items():
        yield FileUploadCommand(
            BytesIO(text.encode()),
            candidate_path(label, path),
            remote_temp_filename=upload_path(wanted[path][:16]),
        )
    marker = shlex.quote(f"{directory}/{ACCEPTED}")
    yield f"{check.format(candidate=quoted)} && touch {marker}"
    # Recorded before anything goes live, removed by a successful activation only.
    yield f"test -e {marker} && {mark_pending_command(pending)}"
    # Every file goes live atomically: a copy beside the live file, renamed over it.
    for path in files:
        new = shlex.quote(f"{path}.fks-new")
        yield (
            f"test -e {marker} && {directory_command(posixpath.dirname(path))} "
            f"&& install -m {mode} -o root -g {shlex.quote(group)} "
            f"{shlex.quote(candidate_path(label, path))} "
            f"{new} && mv -f {new} {shlex.quote(path)}"
        )
    yield f"test -e {marker} && {activate_command(activate, pending)}"
    # Live and active: the candidates (redis.conf and alertmanager.yml hold secrets) go. A
    # refused or failed set stays, root-only, for the operator to read.
    yield f"test -e {marker} && rm -rf {quoted}"
