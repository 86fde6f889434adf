"""An SSH server on loopback with a host key of its own, answering every command with one
canned reply: a stand-in for a host whose key is new or has changed (paramiko's server side).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import paramiko


@dataclass
class FakeSSHD:
    port: int
    key: paramiko.PKey
    #: how many sessions got as far as running a command
    commands: list[str]


class _Server(paramiko.ServerInterface):
    def __init__(self, reply: bytes, seen: list[str]) -> None:
        self.reply = reply
        self.seen = seen

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.seen.append(command.decode(errors="replace"))
        channel.sendall(self.reply)
        channel.send_exit_status(0)
        channel.shutdown_write()
        return True


@contextmanager
def fake_sshd(
    reply: bytes = b"", key: paramiko.PKey | None = None, port: int = 0
) -> Iterator[FakeSSHD]:
    """A server on 127.0.0.1 (``port``, default a free one) for the block's duration; a
    fresh ed25519 host key unless ``key`` is given. Every public key logs in; every command
    prints ``reply``."""
    key = key or new_host_key()
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(0.2)
    stop = threading.Event()
    seen: list[str] = []
    transports: list[paramiko.Transport] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            transport = paramiko.Transport(conn)
            transport.add_server_key(key)
            transports.append(transport)
            try:
                transport.start_server(server=_Server(reply, seen))
            except (paramiko.SSHException, EOFError, OSError):
                transport.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield FakeSSHD(listener.getsockname()[1], key, seen)
    finally:
        stop.set()
        thread.join(timeout=5)
        for transport in transports:
            transport.close()
        listener.close()


def new_host_key() -> paramiko.PKey:
    """A fresh ed25519 host key, as paramiko's server side takes it."""
    import io

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode()
    )
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem))


def client_key_file(directory: str) -> str:
    """A fresh ed25519 login key written (0600) under ``directory``; its path."""
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path = os.path.join(directory, "id_ed25519")
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return path
