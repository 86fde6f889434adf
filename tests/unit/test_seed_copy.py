"""The seed table kept in ``tests/data`` is still the design's original."""

from __future__ import annotations

import pytest
from seed_table import COPY, ORIGINAL, copied_text


def test_the_copy_equals_the_original_seed_table() -> None:
    if not ORIGINAL.exists():
        pytest.skip(
            f"{ORIGINAL} is not beside this checkout, so the copy in {COPY} cannot be compared "
            "with it (the tests against the seed table still run, on the copy)"
        )
    assert copied_text() == ORIGINAL.read_text(encoding="utf-8"), (
        f"{ORIGINAL} changed: copy it to {COPY} again (keeping the origin line) and update "
        "the catalogue if its table changed"
    )
