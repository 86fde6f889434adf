"""pyinfra's operation order, read from the frames instead of from the source files.

In CLI mode pyinfra orders operations by the line numbers of the calls that created them
(``pyinfra.api.util.get_operation_order_from_stack``). It gets them from
``inspect.stack()``, which also opens and reads the source line of every frame, for
every operation of every host: about a second of a no-op deploy of the whole stack,
more than all its fact commands together. The same file names and line numbers are on
the frames themselves (``f_code.co_filename``, ``f_lineno``).

``install()`` puts the frame-reading version where pyinfra's operation decorator looks
it up. The order, and so every operation's identity, is the same as pyinfra's
(``tests/unit/test_stackorder.py`` compares the two).
"""

from __future__ import annotations

import importlib
import sys
from types import FrameType
from typing import Any

import pyinfra
from pyinfra.api.util import PYINFRA_INSTALL_DIR


def operation_order(state: Any) -> list[int]:
    """What ``get_operation_order_from_stack(state)`` returns, for its caller's stack."""
    frames: list[FrameType] = []
    frame: FrameType | None = sys._getframe(1)  # the caller's, as inspect.stack()[1:]
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    frames.reverse()  # outermost first

    start = 0
    if state.current_deploy_filename:
        # From the deploy file's outermost frame on; none (pyinfra: only its own frame,
        # which it filters out) when the deploy file is not on the stack.
        start = next(
            (
                index
                for index, outer in enumerate(frames)
                if outer.f_code.co_filename == state.current_deploy_filename
            ),
            len(frames),
        )

    line_numbers = [state.current_op_file_number] if pyinfra.is_cli else []
    line_numbers += [
        inner.f_lineno
        for inner in frames[start:]
        if not inner.f_code.co_filename.startswith(PYINFRA_INSTALL_DIR)
    ]
    return line_numbers


def install() -> None:
    """Make pyinfra's operation decorator use ``operation_order``."""
    # The module itself: ``pyinfra.api.operation`` as an attribute is the decorator.
    module = importlib.import_module("pyinfra.api.operation")
    module.get_operation_order_from_stack = operation_order  # type: ignore[attr-defined]
