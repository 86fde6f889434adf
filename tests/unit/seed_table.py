"""The seed port table, kept in the repository as test data so the comparison always runs.

``tests/data/seed-port-layout.md`` is a copy of ``../shared/design/seed-port-layout.md``: its
first line says where it came from, the rest is the original byte for byte.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COPY = REPO / "tests" / "data" / "seed-port-layout.md"
ORIGINAL = REPO.parent / "shared" / "design" / "seed-port-layout.md"


def copied_text() -> str:
    """The copy as the original has it: the file without its first line (the origin note)."""
    origin, _, text = COPY.read_text(encoding="utf-8").partition("\n")
    assert origin.startswith("<!-- Copied from ../shared/design/seed-port-layout.md"), origin
    return text


def seed_text() -> str:
    """The seed table's text, its en dashes repaired.

    The seed was saved through a Latin-1 round trip ("â€“" for an en dash).
    """
    return copied_text().replace("â€“", "–")
