"""``parse_hujson``: JSON with comments and trailing commas, strings left as they are."""

from __future__ import annotations

import pytest

from fks_infra.tailscale.policy import parse_hujson


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (",]", ",]"),
        (", }", ", }"),
        ("a,\\n]", "a,\n]"),
        ("// not a comment", "// not a comment"),
        ("/* nor this */", "/* nor this */"),
        ('quote \\" then ,]', 'quote " then ,]'),
    ],
)
def test_strings_that_look_like_syntax_are_kept(literal: str, value: str) -> None:
    text = '{\n  // a comment\n  "note": "' + literal + '", /* another */\n  "list": [1, 2,],\n}\n'
    assert parse_hujson(text) == {"note": value, "list": [1, 2]}


def test_comments_and_trailing_commas_are_accepted() -> None:
    text = '// head\n{\n  "a": {"b": [1, /* two */ 2,],},\n  "c": "d", // tail\n}\n'
    assert parse_hujson(text) == {"a": {"b": [1, 2]}, "c": "d"}


def test_invalid_text_raises_value_error() -> None:
    with pytest.raises(ValueError):
        parse_hujson('{"a": }')
