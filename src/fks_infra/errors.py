"""Problems found by validation, and the error that carries them.

Validation collects every problem it can find before failing, so an operator fixes an
inventory in one pass instead of one error per run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the catalogue or an inventory, and where it is.

    + message: what is wrong, naming both sides of a clash
    + source: the file (or other origin) the offending value came from
    + host: the inventory host concerned, if any
    + key: the data key concerned, if any
    """

    message: str
    source: str = ""
    host: str = ""
    key: str = ""

    def located(self, source: str = "", host: str = "", key: str = "") -> Problem:
        """Fill in whichever location fields are still empty."""
        return replace(
            self,
            source=self.source or source,
            host=self.host or host,
            key=self.key or key,
        )

    def __str__(self) -> str:
        where = " ".join(
            part
            for part in (
                f"{self.source}:" if self.source else "",
                f"host {self.host}:" if self.host else "",
                f"{self.key}:" if self.key else "",
            )
            if part
        )
        return f"{where} {self.message}" if where else self.message


@dataclass(frozen=True)
class MissingSecret(Problem):
    """A secret that neither the environment nor the secrets file holds.

    Fatal wherever a secret is used (``check``, deploys); only a warning for ``plan``,
    which shows no secret.
    """


class ProblemsError(Exception):
    """Validation failed; ``problems`` lists every reason."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(self.report())

    def report(self) -> str:
        return report(self.problems)


#: Characters of an offending value a message repeats, at most.
SHOWN_LIMIT = 60


def shown(value: object, limit: int = SHOWN_LIMIT) -> str:
    """A value as a message repeats it: its ``repr`` (line breaks and other control
    characters escaped, so it cannot forge lines of a report), cut to ``limit`` characters.

    Never use it for a value that may be a secret: say what is wrong without it.
    """
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def report(problems: Sequence[Problem]) -> str:
    """Problems as the command line lists them: a count, then one line each."""
    count = len(problems)
    lines = [f"{count} problem{'s' if count != 1 else ''} found:"]
    lines += [f"  - {problem}" for problem in problems]
    return "\n".join(lines)
