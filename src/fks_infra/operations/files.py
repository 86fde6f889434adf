"""Writers: how fks-infra puts a file on a host. Four, one job each:

- ``private_file``: one file with exactly these bytes, mode and owner (or absent), written
  unseen and whole; for everything fks-infra renders or ships, secrets or not.
- ``daemon_files``: a daemon's own files (``/etc/default``, unit drop-ins), the daemon
  restarted when one changed and kept running; one operation for all of it.
- ``checked_files`` (``operations/checked.py``): config files that go live only after the
  program reading them accepted the candidates (nginx, nftables, sshd, PostgreSQL...).
- ``fetched_file``: a file from elsewhere, checked by SHA-256: a download, or the same file
  shipped from the control machine where hosts cannot download (apt keyrings).

They exist where pyinfra's stock operations would leak or half-apply: ``files.put`` shows
file contents under ``--diff`` (secrets) and writes the destination in place (a killed run
leaves half a file). The generators below (``write_commands``, ``upload_commands``,
``files_in_place_commands``) are the same writes inside operations that do more
(``service_release``, ``tailscale_up``, ``postgres_database``).
"""

from __future__ import annotations

import getpass
import hashlib
import posixpath
import shlex
from collections.abc import Generator, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any

from pyinfra import logger
from pyinfra.api.command import FileUploadCommand
from pyinfra.context import host

from fks_infra.operations.commands import argv
from fks_infra.operations.factcache import file_digest, host_operation
from fks_infra.operations.systemd import service_state_commands
from fks_infra.paths import STAGING_DIR, STATE_DIR, UNIT_DIR, UPLOADS_DIR
from fks_infra.pyinfra_internals import ssh_client


def login_user() -> str:
    """The user this run logs into the current host as: the SSH connection's own (an
    ssh_config ``User`` counts), else the host's ``ssh_user``, else paramiko's default, the
    local user name."""
    client = ssh_client(host)
    transport = client.get_transport() if client is not None else None
    if transport is not None and transport.get_username():
        return str(transport.get_username())
    return str(host.data.get("ssh_user") or getpass.getuser())


def upload_path(name: str) -> str:
    """Where pyinfra's SFTP puts the bytes of staged file ``name`` when commands run through
    sudo (its ``remote_temp_filename``): the login user's own uploads directory."""
    return f"{UPLOADS_DIR}/{login_user()}/{name}.part"


@host_operation
def private_file(
    content: bytes | None,
    dest: str,
    mode: str = "600",
    user: str = "root",
    group: str = "root",
) -> Generator[object, None, None]:
    """Write a file atomically, never showing its content; for secrets and artifacts.

    + content: the exact bytes the file must hold; ``None``: the file must not be there
    + dest: absolute path on the host
    + mode, user, group: what the file must end up as

    The bytes go to a root-only staging directory first, get their mode and owner there,
    and are renamed into place: the file is never world-readable and never half-written.
    Pass ``name=`` when calling, so no argument can leak into the operation's name.
    """
    yield from file_commands(content, dest, mode, user, group)


def file_commands(
    content: bytes | None, dest: str, mode: str, user: str, group: str
) -> Generator[object, None, None]:
    """``private_file``'s commands, for operations that write several files: ``content``
    written (``write_commands``), or ``None``: the file removed (``removal_commands``)."""
    if content is None:
        yield from removal_commands(dest)
    else:
        yield from write_commands(content, dest, mode, user, group)


def removal_commands(dest: str) -> Generator[object, None, None]:
    """The command that removes ``dest`` where it exists."""
    if file_digest(dest) is not None:
        yield argv("rm", "-f", dest)


def write_commands(
    content: bytes, dest: str, mode: str, user: str, group: str
) -> Generator[object, None, None]:
    """The commands that give ``dest`` exactly ``content``, mode and owner; none when it has
    them."""
    wanted = hashlib.sha256(content).hexdigest()
    current = file_digest(dest)
    if current == {"sha256": wanted, "mode": mode, "user": user, "group": group}:
        return
    if current and current["sha256"] == wanted:
        yield argv("chown", f"{user}:{group}", dest)
        yield argv("chmod", mode, dest)
        return
    logger.debug("%s: writing %s (content not shown)", host.name, dest)
    yield from upload_commands(content, dest, mode, user, group)


#: Mode of each directory fks-infra makes to hold a file it writes: what Debian's packages
#: give theirs, and what a host whose operators log in with umask 022 gets.
DIRECTORY_MODE = "755"


def directory_command(path: str, mode: str = DIRECTORY_MODE) -> str:
    """The command making directory ``path`` with ``mode``, and each missing parent with
    ``DIRECTORY_MODE``; a directory that exists keeps its mode and owner.

    ``mkdir -p -m`` gives the mode to the last directory only, the parents get what the
    umask leaves: the command sets the umask of its own shell (022), so a host whose logins
    and sudo have another (CIS: 027, the parents would be 0750) gets the same directories.
    """
    return f"umask 022 && mkdir -p -m {mode} {shlex.quote(path)}"


def upload_commands(
    content: bytes, dest: str, mode: str, user: str, group: str
) -> Generator[object, None, None]:
    """The commands that put ``content`` at ``dest`` unseen and whole (see ``private_file``).

    Directories missing above ``dest`` are made ``DIRECTORY_MODE`` (``directory_command``).
    """
    name = hashlib.sha256(content).hexdigest()[:16]
    staged = f"{STAGING_DIR}/{name}"
    # Over sudo, pyinfra uploads as the login user to the temporary name (in their own
    # uploads directory) and copies it as root into the root-only staging directory.
    yield FileUploadCommand(BytesIO(content), staged, remote_temp_filename=upload_path(name))
    yield directory_command(posixpath.dirname(dest))
    yield argv("chown", f"{user}:{group}", staged)
    yield argv("chmod", mode, staged)
    yield argv("mv", "-f", staged, dest)


def pending_marker(name: str) -> str:
    """The file recording that files of ``name`` (a unit, a ``checked_files`` set) went live
    and the activation they need (restart, reload) has not succeeded yet:
    ``STATE_DIR/<name>.pending``, root's, 0600, empty.

    Written before the files go live and removed by the command that activates them, only
    when it succeeded: a failed or interrupted activation leaves it, and the next run, whose
    files are already as they should be, activates them again instead of reporting no change.
    It matches ``STATE_DIR/*`` of ``paths.MANAGED_FILES``: a converged host answers "absent"
    from the batched digests every run reads anyway, so the marker costs it no command.
    """
    return f"{STATE_DIR}/{name}.pending"


def mark_pending_command(marker: str) -> str:
    """The command writing ``marker`` (``pending_marker``): empty, root's, 0600."""
    return f"install -m 600 -o root -g root /dev/null {shlex.quote(marker)}"


def activate_command(activate: str, marker: str) -> str:
    """``activate`` (a shell command), then ``marker`` removed, only if it succeeded."""
    return f"{activate} && rm -f {shlex.quote(marker)}"


def files_in_place_commands(
    files: Sequence[tuple[str, bytes | None, str]],
    pending: str | None = None,
) -> Generator[object, None, list[str]]:
    """The commands that give each file its content, as ``private_file`` does (owned by
    root; ``None`` as content: removed when there), then reload systemd when a unit file or
    drop-in changed. Returns the paths that changed.

    + pending: a ``pending_marker`` written before the first file changes, for a caller that
      activates the files afterwards and removes it then (``daemon_files``)
    """
    planned = [
        (dest, list(file_commands(content, dest, mode, "root", "root")))
        for dest, content, mode in files
    ]
    changed = [dest for dest, commands in planned if commands]
    if changed and pending:
        yield mark_pending_command(pending)
    for _, commands in planned:
        yield from commands
    if any(dest.startswith(f"{UNIT_DIR}/") for dest in changed):
        yield "systemctl daemon-reload"
    return changed


@host_operation
def daemon_files(
    unit: str,
    files: Sequence[tuple[str, bytes | None, str]],
    restart: bool = True,
    running: bool | None = True,
    enabled: bool | None = True,
) -> Generator[object, None, None]:
    """A daemon's own files (its ``/etc/default`` file, a unit drop-in), the daemon in step.

    + unit: the daemon's service unit
    + files: (path, content, mode) of each file, written as ``private_file`` writes one
      (owned by root); ``None`` as content: the file must not be there
    + restart: restart ``unit`` when any file changed (a daemon reads them at start), and
      when an earlier run changed them but its restart failed or never ran (the unit's
      ``pending_marker`` is there); a changed file under the unit directory reloads systemd
      first, restart or not
    + running, enabled: as for ``service_state``

    One operation where "write, reload, restart when changed, keep running" took three or
    four: each costs pyinfra time on every host, even when nothing changes.
    """
    marker = pending_marker(unit)
    left_pending = restart and file_digest(marker) is not None
    changed = yield from files_in_place_commands(files, pending=marker if restart else None)
    if restart and (changed or left_pending):
        yield activate_command(f"systemctl restart {shlex.quote(unit)}", marker)
    yield from service_state_commands([unit], running, enabled)


def fetched_file(
    name: str, dest: str, url: str, sha256: str | None, local_file: str | None, mode: str = "644"
) -> Any:
    """Put a file from elsewhere at ``dest``: downloaded on the host from ``url``, or, where
    ``local_file`` is given, shipped from this machine (hosts without internet access).

    + name: the operation's name
    + sha256: the download must have this digest (pyinfra's ``files.download`` checks it)

    Returns the operation's ``OperationMeta`` (for ``_if=`` of what depends on it).
    """
    from pyinfra.operations import files

    if local_file:
        return files.put(name=name, src=str(Path(local_file).resolve()), dest=dest, mode=mode)
    return files.download(name=name, src=url, dest=dest, mode=mode, sha256sum=sha256)
