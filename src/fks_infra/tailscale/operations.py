"""``tailscale up``, run only when its arguments changed or the node is logged out."""

from __future__ import annotations

import shlex
from collections.abc import Generator, Sequence

from pydantic import SecretStr
from pyinfra.api.command import StringCommand

from fks_infra.operations.commands import argv
from fks_infra.operations.factcache import fact, host_operation
from fks_infra.operations.files import upload_commands
from fks_infra.tailscale.facts import TAILSCALE_AUTHKEY_FILE, TAILSCALE_UP_HASH, TailscaleNode
from fks_infra.tailscale.node import arguments_hash


@host_operation
def tailscale_up(arguments: Sequence[str], auth_key: SecretStr) -> Generator[object, None, None]:
    """Run ``tailscale up`` when its arguments changed or the node is not logged in.

    + arguments: ``tailscale up``'s arguments, without the auth key (see ``tailnet.up_arguments``)
    + auth_key: the key, used only when the node must log in

    The key travels like a ``private_file``: uploaded unseen into a root-only file, passed as
    ``--auth-key=file:PATH`` (never in argv) and removed by the same shell, whatever ``up``
    returns. The hash of the arguments is recorded (root-only) only after ``up`` succeeded,
    so a failed ``up`` is tried again on the next run. The key is not part of the hash: a
    rotated key does not log a running node in again.
    """
    wanted = arguments_hash(arguments)
    node = fact(TailscaleNode)
    if node["backend_state"] == "Running" and node["up_sha256"] == wanted:
        if node["authkey_left"]:
            yield argv("rm", "-f", TAILSCALE_AUTHKEY_FILE)
        return
    yield from upload_commands(
        auth_key.get_secret_value().encode(), TAILSCALE_AUTHKEY_FILE, "600", "root", "root"
    )
    yield StringCommand(
        "trap",
        shlex.quote(f"rm -f {TAILSCALE_AUTHKEY_FILE}"),
        "EXIT;",
        "tailscale",
        "up",
        *(shlex.quote(arg) for arg in arguments),
        f"--auth-key=file:{TAILSCALE_AUTHKEY_FILE}",
    )
    yield StringCommand(
        f"umask 077 && echo {wanted} > {TAILSCALE_UP_HASH}.tmp "
        f"&& mv -f {TAILSCALE_UP_HASH}.tmp {TAILSCALE_UP_HASH}"
    )
