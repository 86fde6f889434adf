"""What a host says of its Tailscale node."""

from __future__ import annotations

import json

from pyinfra.api.facts import FactBase

from fks_infra.paths import STATE_DIR

#: Where fks-infra records the hash of the arguments of the last successful ``tailscale up``.
TAILSCALE_UP_HASH = f"{STATE_DIR}/tailscale-up.sha256"


#: Where the auth key lives for the length of one ``tailscale up`` (root-only).
TAILSCALE_AUTHKEY_FILE = f"{STATE_DIR}/tailscale-authkey"


class TailscaleNode(FactBase[dict[str, object]]):
    """What ``tailscale up`` needs to know of a node: its state and the recorded arguments.

    .. code:: python

        {"backend_state": "Running", "up_sha256": "3f1c...", "authkey_left": False}

    ``backend_state`` is ``tailscale status --json``'s BackendState (Running, NeedsLogin,
    Stopped, ...), ``NotInstalled`` without the binary, ``Unknown`` when the daemon does not
    answer. ``authkey_left`` says an auth key file outlived an interrupted run.
    """

    def command(self) -> str:
        return (
            f'[ -f {TAILSCALE_UP_HASH} ] && echo "up-sha256 $(cat {TAILSCALE_UP_HASH})"; '
            f"[ -e {TAILSCALE_AUTHKEY_FILE} ] && echo authkey-left; "
            "if command -v tailscale >/dev/null 2>&1; then "
            "tailscale status --json --peers=false 2>/dev/null || echo unknown; "
            "else echo not-installed; fi; true"
        )

    def process(self, output: list[str]) -> dict[str, object]:
        node: dict[str, object] = {"backend_state": "Unknown", "up_sha256": None}
        node["authkey_left"] = "authkey-left" in output
        status: list[str] = []
        for line in output:
            if line.startswith("up-sha256 "):
                node["up_sha256"] = line.split(" ", 1)[1].strip() or None
            elif line == "not-installed":
                node["backend_state"] = "NotInstalled"
            elif line != "authkey-left" and line != "unknown":
                status.append(line)
        if status:
            try:
                parsed = json.loads("\n".join(status))
            except ValueError:
                parsed = {}
            state = parsed.get("BackendState") if isinstance(parsed, dict) else None
            node["backend_state"] = state if isinstance(state, str) else "Unknown"
        return node
