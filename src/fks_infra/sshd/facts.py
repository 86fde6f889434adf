"""sshd's effective configuration."""

from __future__ import annotations

from pyinfra.api.facts import FactBase


class SshdPorts(FactBase[list[int]]):
    """The TCP ports sshd's effective config listens on (``sshd -T``), empty if unknown."""

    @staticmethod
    def default() -> list[int]:
        return []

    def command(self) -> str:
        return "sshd -T 2>/dev/null | awk '$1 == \"port\" {print $2}'; true"

    def process(self, output: list[str]) -> list[int]:
        return sorted({int(line) for line in output if line.strip().isdigit()})
