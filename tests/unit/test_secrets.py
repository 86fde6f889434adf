"""Secrets come from the environment or a private TOML file, and never show their value."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from fks_infra.errors import ProblemsError
from fks_infra.secrets import SecretStore, saslprep, write_missing

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


def test_a_private_file_of_another_user_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "s.toml", "X = 'canary-value'\n")
    os.chown(tmp_path / "s.toml", 65534, 65534)  # nobody: the tests run as root in the lab
    value, (problem,) = SecretStore(tmp_path, {}).lookup("X", "s.toml")
    assert value is None
    assert "owned by uid 65534, not by the user running fks-infra" in str(problem)


def test_a_file_in_a_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "shared/s.toml", "X = 'canary-value'\n")
    (tmp_path / "shared").chmod(0o1777)  # like /tmp: anyone may put a file of theirs there
    value, (problem,) = SecretStore(tmp_path, {}).lookup("X", "shared/s.toml")
    assert value is None and "writable by others (mode 1777)" in str(problem)


def test_a_symlink_is_refused_even_to_a_private_file(tmp_path: Path) -> None:
    write(tmp_path / "real.toml", "X = 'canary-value'\n")
    (tmp_path / "s.toml").symlink_to(tmp_path / "real.toml")
    value, (problem,) = SecretStore(tmp_path, {}).lookup("X", "s.toml")
    assert value is None and "a symlink; use a plain file" in str(problem)


def test_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "s.toml", 0o600)
    value, (problem,) = SecretStore(tmp_path, {}).lookup("X", "s.toml")
    assert value is None and "not a regular file" in str(problem)


def test_init_never_writes_through_a_stale_temporary(tmp_path: Path) -> None:
    """A 0644 temporary left by an earlier run (or planted) is neither reused nor followed."""
    path = tmp_path / "secrets/fks.toml"
    write(path, "A = 'kept'\n")
    stale = path.with_name(f".{path.name}.tmp")
    stale.write_text("stale\n")
    stale.chmod(0o644)
    assert write_missing(path, ["A", "B"], {}) == ["B"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stale.read_text() == "stale\n"
    assert [p.name for p in path.parent.iterdir() if p != stale] == [path.name]
    value, problems = SecretStore(tmp_path, {}).lookup("A", "secrets/fks.toml")
    assert problems == [] and value is not None and value.get_secret_value() == "kept"


def test_init_refuses_a_file_it_may_not_use(tmp_path: Path) -> None:
    write(tmp_path / "real.toml", "A = 'kept'\n")
    (tmp_path / "fks.toml").symlink_to(tmp_path / "real.toml")
    with pytest.raises(ProblemsError, match="symlink"):
        write_missing(tmp_path / "fks.toml", ["B"], {})
    assert (tmp_path / "real.toml").read_text() == "A = 'kept'\n"


def test_init_makes_up_no_webhook_url(tmp_path: Path) -> None:
    path = tmp_path / "fks.toml"
    assert write_missing(path, ["ALERTMANAGER_WEBHOOK_URL", "B"], {}) == ["B"]


# RFC 4013 section 3's examples, as PostgreSQL applies them (ASCII kept as is, its quick path).
@pytest.mark.parametrize(
    ("value", "prepared"),
    [
        ("I\u00adX", "IX"),  # soft hyphen mapped to nothing
        ("user", "user"),
        ("\u00aa", "a"),
        ("\u2168", "IX"),  # NFKC
        ("\u0007", "\u0007"),  # ASCII: PostgreSQL's quick path returns it as is
        ("\u0627\u0031", None),  # bidi: RandALCat not last
        ("a\u0085b", None),  # prohibited (C.2.2): PostgreSQL falls back to the raw bytes
    ],
)
def test_saslprep_follows_rfc_4013_examples(value: str, prepared: str | None) -> None:
    assert saslprep(value) == prepared


SASLPREP_CHANGES = {
    "no-break space": "pass\u00a0word",
    "ligature": "\ufb01nance-2024",
    "decomposed accent": "cafe\u0301-2024",
    "soft hyphen": "pass\u00adword",
}
REDIS_MISREAD = {"line separator": "pass\u2028word", "next line": "pass\u0085word"}


@pytest.mark.parametrize(("why", "value"), SASLPREP_CHANGES.items())
@pytest.mark.parametrize("from_env", [True, False])
def test_postgres_password_saslprep_would_change_is_refused(
    tmp_path: Path, why: str, value: str, from_env: bool
) -> None:
    store = _store(tmp_path, "POSTGRES_PASSWORD", value, from_env)
    _, (problem,) = store.lookup("POSTGRES_PASSWORD", "s.toml")
    assert "POSTGRES_PASSWORD: PostgreSQL would change this password by SASLprep" in str(problem)
    assert str(problem).startswith("FKS_SECRET_POSTGRES_PASSWORD:" if from_env else str(tmp_path))
    assert value not in str(problem)


@pytest.mark.parametrize(
    "value", ["caf\u00e9-2024", "p@ss w0rd $HOME 'q' \"d\"", "\u0627\u0031", "tab\there"]
)
def test_postgres_password_saslprep_keeps_is_accepted(tmp_path: Path, value: str) -> None:
    store = _store(tmp_path, "POSTGRES_PASSWORD", value, True)
    found, problems = store.lookup("POSTGRES_PASSWORD", "s.toml")
    assert problems == [] and found is not None and found.get_secret_value() == value


@pytest.mark.parametrize(("why", "value"), REDIS_MISREAD.items())
@pytest.mark.parametrize("from_env", [True, False])
def test_redis_password_redis_conf_cannot_carry_is_refused(
    tmp_path: Path, why: str, value: str, from_env: bool
) -> None:
    store = _store(tmp_path, "REDIS_PASSWORD", value, from_env)
    _, (problem,) = store.lookup("REDIS_PASSWORD", "s.toml")
    assert "REDIS_PASSWORD: Redis password holds non-ASCII characters that are not" in str(problem)
    assert value not in str(problem)


@pytest.mark.parametrize(
    "value", ["caf\u00e9 p@ss $x \"'\\", "\ufb01 ligature is fine here", "two\nlines\ttab"]
)
def test_redis_password_printable_is_accepted(tmp_path: Path, value: str) -> None:
    assert (
        _store(tmp_path, "REDIS_PASSWORD", value, True).lookup("REDIS_PASSWORD", "s.toml")[1] == []
    )


@pytest.mark.parametrize(
    "value",
    [
        "ftp://hooks.example.org/x",
        "https:///token-only",
        "https://hooks.example.org/a b",
        'https://hooks.example.org/"quoted"',
        "https://hooks.example.org/x\nreceivers: []",
        "https://hooks.example.org:port/x",
        "hooks.example.org/token",
    ],
)
def test_webhook_url_that_is_no_plain_url_is_refused(tmp_path: Path, value: str) -> None:
    store = _store(tmp_path, "ALERTMANAGER_WEBHOOK_URL", value, True)
    _, (problem,) = store.lookup("ALERTMANAGER_WEBHOOK_URL", "s.toml")
    assert "must be an http:// or https:// URL with a host" in str(problem)
    assert value not in str(problem)


@pytest.mark.parametrize(
    "value", ["https://hooks.example.org:8443/T0/B1/xyz?token=a%20b&x=1", "http://[fd00::1]:9/"]
)
def test_webhook_url_is_accepted(tmp_path: Path, value: str) -> None:
    store = _store(tmp_path, "ALERTMANAGER_WEBHOOK_URL", value, True)
    assert store.lookup("ALERTMANAGER_WEBHOOK_URL", "s.toml")[1] == []


def _store(tmp_path: Path, name: str, value: str, from_env: bool) -> SecretStore:
    if from_env:
        return SecretStore(tmp_path, {f"FKS_SECRET_{name}": value})
    write(tmp_path / "s.toml", f"{name} = {json.dumps(value)}\n")  # a TOML basic string
    return SecretStore(tmp_path, {})


@pytest.mark.parametrize("name", ["REDIS_PASSWORD", "POSTGRES_PASSWORD", "AUTH_SECRET"])
def test_a_nul_character_is_refused_in_any_secret(tmp_path: Path, name: str) -> None:
    store = _store(tmp_path, name, "canary\0rest", False)
    _, (problem,) = store.lookup(name, "s.toml")
    assert str(problem).endswith(f"{name}: holds a NUL character, which no environment "
                                 "variable or env file carries")  # fmt: skip
