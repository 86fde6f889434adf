"""Secrets come from the environment or a private TOML file, and never show their value."""

from __future__ import annotations

from pathlib import Path

import pytest

from fks_infra.secrets import SecretStore

TRICKY = 'it\'s "quoted" $HOME and spaces\nand a second line'


def write(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def test_file_value_is_read_byte_exact(tmp_path: Path) -> None:
    write(tmp_path / "secrets/fks.toml", f"AUTH_SECRET = '''{TRICKY}'''\n")
    value, problems = SecretStore(tmp_path, {}).lookup("AUTH_SECRET", "secrets/fks.toml")
    assert problems == []
    assert value is not None and value.get_secret_value() == TRICKY
    assert TRICKY not in repr(value) and TRICKY not in str(value)


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    write(tmp_path / "s.toml", "AUTH_SECRET = 'from-file'\n")
    store = SecretStore(tmp_path, {"FKS_SECRET_AUTH_SECRET": TRICKY})
    value, _ = store.lookup("AUTH_SECRET", "s.toml")
    assert value is not None and value.get_secret_value() == TRICKY


def test_missing_file_and_missing_key_give_none(tmp_path: Path) -> None:
    assert SecretStore(tmp_path, {}).lookup("X", "nope.toml") == (None, [])
    write(tmp_path / "s.toml", "Y = 'y'\n")
    assert SecretStore(tmp_path, {}).lookup("X", "s.toml") == (None, [])


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    write(tmp_path / "s.toml", "X = 'canary-value'\n", mode)
    value, (problem,) = SecretStore(tmp_path, {}).lookup("X", "s.toml")
    assert value is None
    assert f"readable by others (mode {mode:04o}); run: chmod 600" in str(problem)


def test_bad_toml_is_reported_without_the_value(tmp_path: Path) -> None:
    write(tmp_path / "s.toml", "X = 'canary-value\n")
    _, (problem,) = SecretStore(tmp_path, {}).lookup("X", "s.toml")
    assert "not valid TOML" in str(problem) and "canary-value" not in str(problem)


def test_non_string_value_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "s.toml", "X = 12345\n")
    value, (problem,) = SecretStore(tmp_path, {}).lookup("X", "s.toml")
    assert value is None and str(problem).endswith("X: secret must be a string, not int")
    assert "12345" not in str(problem)
