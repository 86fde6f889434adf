"""Commands built from data, every argument quoted for the shell."""

from __future__ import annotations

from pyinfra.api.command import QuoteString, StringCommand


def argv(*args: str) -> StringCommand:
    """One command from its arguments, each quoted with ``shlex.quote``.

    pyinfra's ``StringCommand`` joins plain ``str`` bits as they are and quotes only
    ``QuoteString`` bits (``pyinfra/api/command.py``, ``StringCommand._get_all_bits``): a path,
    user or unit name holding a space, ``;`` or ``$()`` would otherwise change the command.

    + args: the program and its arguments, as ``execve`` would get them
    """
    return StringCommand(*(QuoteString(arg) for arg in args))
