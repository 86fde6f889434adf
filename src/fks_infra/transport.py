"""SSH transports without Nagle's algorithm: pyinfra's commands answer in milliseconds.

paramiko leaves Nagle's algorithm on. An SSH command is a few small writes (open a
channel, send the exec request) that each wait for the last one's acknowledgement, which
the server delays (Linux's delayed ACK). A deploy runs a few commands per host and pays
that on every one; the measured gain is in bench/README.md.

group_data/all.py hands ``nodelay_transport`` to paramiko through pyinfra's
``ssh_paramiko_connect_kwargs`` (paramiko's ``transport_factory``); ``fks-infra verify``
sets it on each testinfra connection (fks_infra/checks/fleet.py).
"""

from __future__ import annotations

import socket
from typing import Any

from paramiko import Transport


def set_nodelay(sock: object) -> None:
    """TCP_NODELAY on a TCP socket; anything else (a ProxyCommand, a channel) is left alone."""
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def nodelay_transport(sock: Any, **kwargs: Any) -> Transport:
    """paramiko's ``Transport`` over ``sock``, with TCP_NODELAY set (pyinfra's connections)."""
    set_nodelay(sock)
    return Transport(sock, **kwargs)
