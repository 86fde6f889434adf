"""The one exception type the lab raises for problems a user can act on."""

from __future__ import annotations


class LabError(Exception):
    """A lab operation failed for a reason the message explains.

    The CLI prints these without a traceback: they carry what went wrong and
    what to do about it, unlike programming errors which should stay loud.
    """
