"""TCP_NODELAY goes on TCP sockets only; the transport is paramiko's own."""

from __future__ import annotations

import socket

from paramiko import Transport

from fks_infra.transport import nodelay_transport, set_nodelay


def nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_a_tcp_socket_gets_nodelay_and_a_paramiko_transport() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        assert nodelay(client) == 0
        transport = nodelay_transport(client)
        try:
            assert isinstance(transport, Transport)
            assert nodelay(client) == 1
        finally:
            transport.close()


def test_other_sockets_are_left_alone() -> None:
    left, right = socket.socketpair()
    with left, right:
        set_nodelay(left)  # a Unix socket has no Nagle to turn off: no error, no change
    set_nodelay(object())  # e.g. paramiko's ProxyCommand
