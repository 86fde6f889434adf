"""The unit of every service, rendered with production Jinja settings and checked by systemd.

``systemd-analyze verify`` and ``systemd-analyze security --offline=yes`` judge the rendered
text; these tests never check a unit with the code that wrote it. Without systemd-analyze
they skip, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest
from pyinfra.api.util import get_template

from fks_infra.catalogue import CATALOGUE, Language, Service
from fks_infra.errors import ProblemsError
from fks_infra.services.units import (
    UNIT_TEMPLATE,
    UnitContext,
    UnitOptions,
    render_unit,
    unit_context,
    unit_path,
)
from fks_infra.settings import HostSettings, parse_settings
from fks_infra.templating import render, template_path

NAMES = CATALOGUE.names
GPU_NAMES = [s.name for s in CATALOGUE if s.needs_gpu]
ALL_SECRETS = sorted({name for service in CATALOGUE for name in service.secrets})
#: What ``systemd-analyze security`` may say per sandbox profile (issue #16): plain services
#: keep <= 1.5; ml units re-allow sched_setaffinity and AF_NETLINK.
MAX_EXPOSURE = {"plain": 1.5, "ml": 1.6}
BIND = "10.0.0.5"
#: A release id as the builder makes them (``releases/build.py``).
RELEASE = "3f2a9c0d1e2b4a5c-cp311"
HOST_UNITS = Path("/usr/lib/systemd/system")

#: Option sets a unit must pass with: the lab defaults (localhost only), a host talking to
#: its inventory peers and the tailnet, and a service allowed out to the internet.
VARIANTS: dict[str, dict[str, object]] = {
    "lab": {"bind_address": "127.0.0.1"},
    "peers": {"bind_address": BIND, "ip_allow": ("10.0.0.0/24", "100.64.0.0/10")},
    "internet": {"bind_address": BIND, "ip_allow": ("any",)},
}


def options_for(service: Service, variant: str = "peers") -> UnitOptions:
    values = dict(VARIANTS[variant])
    values["memory_deny_write_execute"] = (
        service.name not in HostSettings().fks_write_execute_services
    )
    if service.needs_gpu and variant != "lab":
        values["gpu_indices"] = (0,)
    return UnitOptions(**values)  # type: ignore[arg-type]


def exec_start_for(service: Service, bind: str = BIND) -> tuple[str, ...]:
    """What a release builder would give: uvicorn in the release's venv, or the Rust binary."""
    if service.language is Language.RUST:
        return (f"{service.install_dir}/current/bin/fks_{service.name}",)
    return (
        f"{service.install_dir}/current/venv/bin/uvicorn",
        f"fks_{service.name}.main:app",
        "--host",
        bind,
        "--port",
        str(service.port),
    )


def unit_for(service: Service, variant: str = "peers") -> str:
    options = options_for(service, variant)
    return render_unit(
        service, exec_start_for(service, options.bind_address), options, release_id=RELEASE
    )


def settings(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of every setting line of a unit, comments left out."""
    section, found = "", []
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.append((section, key, value))
    return found


def values(text: str, section: str, key: str) -> list[str]:
    return [v for s, k, v in settings(text) if (s, k) == (section, key)]


# --- rendering ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_unit_lines(name: str) -> None:
    service = CATALOGUE[name]
    text = unit_for(service)
    assert text.startswith(f"# {service.unit}: managed by fks-infra; do not edit")
    assert values(text, "Unit", "Description") == [f"FKS {name}: {service.description}"]
    assert values(text, "Service", "User") == [f"fks-{name}"]
    assert values(text, "Service", "Group") == [f"fks-{name}"]
    assert values(text, "Service", "ExecStart") == [" ".join(exec_start_for(service))]
    assert values(text, "Service", "WorkingDirectory") == [f"/opt/fks/{name}/current"]
    assert values(text, "Service", "Environment")[:3] == [
        f"SERVICE_NAME={name}",
        f"SERVICE_PORT={service.port}",
        f"SERVICE_HOST={BIND}",
    ]
    assert values(text, "Service", "EnvironmentFile") == [f"/etc/fks/{name}.env"]
    assert values(text, "Service", "StateDirectory") == [f"fks/{name}"]
    assert values(text, "Service", "Restart") == ["on-failure"]
    assert values(text, "Service", "IPAddressAllow") == [
        "localhost",
        "10.0.0.0/24",
        "100.64.0.0/10",
    ]
    mdwe = "no" if name in HostSettings().fks_write_execute_services else "yes"
    assert values(text, "Service", "MemoryDenyWriteExecute") == [mdwe]
    assert text.endswith("WantedBy=multi-user.target\n")
    assert "\n\n\n" not in text, "the template's tags leave blank lines"


@pytest.mark.parametrize("name", NAMES)
def test_release_home_and_cache(name: str) -> None:
    """The release id reaches the service (its /health names it); HOME and the cache are the
    service's own writable directories, not /nonexistent under ProtectSystem=strict."""
    text = unit_for(CATALOGUE[name])
    environment = values(text, "Service", "Environment")
    assert f"FKS_RELEASE_ID={RELEASE}" in environment
    assert f"HOME=/var/lib/fks/{name}" in environment
    assert f"XDG_CACHE_HOME=/var/cache/fks/{name}" in environment
    assert values(text, "Service", "StateDirectory") == [f"fks/{name}"]
    assert values(text, "Service", "CacheDirectory") == [f"fks/{name}"]
    assert values(text, "Service", "StateDirectoryMode") == ["0700"]
    assert values(text, "Service", "CacheDirectoryMode") == ["0700"]


@pytest.mark.parametrize("name", NAMES)
def test_sandbox_profile_lines(name: str) -> None:
    """plain keeps the whole filter; ml re-allows exactly sched_setaffinity and AF_NETLINK."""
    service = CATALOGUE[name]
    text = unit_for(service)
    families = values(text, "Service", "RestrictAddressFamilies")
    calls = values(text, "Service", "SystemCallFilter")
    assert families[0] == "AF_INET AF_INET6 AF_UNIX"
    assert calls[:2] == ["@system-service", "~@privileged @resources"]
    if service.sandbox == "ml":
        assert (families[1:], calls[2:]) == (["AF_NETLINK"], ["sched_setaffinity"])
    else:
        assert (families[1:], calls[2:]) == ([], [])


def test_ml_services_are_the_ml_runtimes() -> None:
    # The services of the seed that load PyTorch, numba and Hugging Face models.
    ml = {s.name for s in CATALOGUE if s.sandbox == "ml"}
    assert ml == {"ai", "training", "feature_engineering"}


@pytest.mark.parametrize("release_id", ["", "a b", "50%", "x\ny"])
def test_a_bad_release_id_is_refused(release_id: str) -> None:
    service = CATALOGUE["api"]
    with pytest.raises(ProblemsError, match="release id"):
        render_unit(service, exec_start_for(service, "127.0.0.1"), release_id=release_id)


def test_ports_come_from_the_catalogue() -> None:
    # Literal ports from the seed table, not read back from the code under test.
    assert "SERVICE_PORT=8001" in unit_for(CATALOGUE["api"])
    assert "SERVICE_PORT=8021" in unit_for(CATALOGUE["feature_engineering"])
    moved = CATALOGUE.with_ports({"api": 8011, "training": 8001})["api"]
    assert "SERVICE_PORT=8011" in unit_for(moved)


@pytest.mark.parametrize("name", NAMES)
def test_no_secret_in_the_unit(name: str) -> None:
    text = unit_for(CATALOGUE[name], "internet")
    assert [secret for secret in ALL_SECRETS if secret in text] == []


def test_a_secret_may_not_be_a_plain_variable() -> None:
    options = UnitOptions(environment=(("EXCHANGE_API_KEY", "k"),))
    service = CATALOGUE["execution"]
    with pytest.raises(ProblemsError, match=re.escape(f"belongs in {service.env_file}")):
        unit_context(service, exec_start_for(service), options, release_id=RELEASE)


@pytest.mark.parametrize("name", NAMES)
def test_gpu_lines(name: str) -> None:
    service = CATALOGUE[name]
    text = unit_for(service)
    if service.needs_gpu:
        assert "nvidia-persistenced.service" in values(text, "Unit", "After")
        assert "nvidia-persistenced.service" not in values(text, "Unit", "Wants")
        assert values(text, "Service", "PrivateDevices") == ["no"]
        assert "/dev/nvidiactl rw" in values(text, "Service", "DeviceAllow")
        assert "CUDA_VISIBLE_DEVICES=0" in values(text, "Service", "Environment")
    else:
        assert "nvidia" not in text
        assert values(text, "Service", "PrivateDevices") == ["yes"]
    assert values(text, "Service", "DevicePolicy") == ["closed"]


def test_all_gpus_when_no_indices_are_given() -> None:
    text = unit_for(CATALOGUE["ai"], "lab")
    assert "CUDA_VISIBLE_DEVICES" not in text
    assert "CUDA_DEVICE_ORDER" not in text


def test_words_are_quoted_for_systemd() -> None:
    service = CATALOGUE["auth"]
    argv = [f"{service.install_dir}/current/bin/fks_auth", "--motd", 'say "hi" at 50%', "$HOME"]
    options = UnitOptions(environment=(("GREETING", "a b"), ("RATIO", "50%")))
    text = render_unit(service, argv, options, release_id=RELEASE)
    assert values(text, "Service", "ExecStart") == [
        '/opt/fks/auth/current/bin/fks_auth --motd "say \\"hi\\" at 50%%" $$HOME'
    ]
    assert values(text, "Service", "Environment")[6:] == ['"GREETING=a b"', "RATIO=50%%"]


def test_a_missing_value_fails_the_render() -> None:
    """Production settings: StrictUndefined, so no value can silently render empty."""
    service = CATALOGUE["api"]
    context = unit_context(
        service, exec_start_for(service), options_for(service), release_id=RELEASE
    )
    variables = context.template_vars()
    del variables["port"]
    with pytest.raises(jinja2.UndefinedError, match="port"):
        render(UNIT_TEMPLATE, variables)


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(UnitContext)])
def test_the_template_reads_every_value(field: str) -> None:
    # For a GPU service every branch reads its values, so no context field is dead.
    service = CATALOGUE["ai"]
    options = options_for(service)
    context = unit_context(service, exec_start_for(service), options, release_id=RELEASE)
    variables = context.template_vars()
    del variables[field]
    with pytest.raises(jinja2.UndefinedError):
        render(UNIT_TEMPLATE, variables)


@pytest.mark.parametrize("name", ["api", "ai"])
def test_same_text_as_pyinfra_files_template(name: str) -> None:
    service = CATALOGUE[name]
    options = options_for(service)
    context = unit_context(service, exec_start_for(service), options, release_id=RELEASE)
    pyinfra_text = get_template(str(template_path(UNIT_TEMPLATE))).render(context.template_vars())
    assert render_unit(service, exec_start_for(service), options, release_id=RELEASE) == (
        pyinfra_text
    )


def test_unit_path() -> None:
    expected = "/etc/systemd/system/fks-data_ingestion.service"
    assert unit_path(CATALOGUE["data_ingestion"]) == expected


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values_", "message"),
    [
        ({"bind_address": "localhost"}, "bind_address 'localhost' is not an IP address"),
        ({"ip_allow": ("10.0.0.0/33",)}, "ip_allow entry '10.0.0.0/33'"),
        ({"memory_max": "1GB"}, "memory_max '1GB'"),
        ({"gpu_indices": (0, 0)}, "must be distinct"),
        ({"restart_sec": 20}, "a crash loop would never stop"),
        ({"environment": (("SERVICE_PORT", "1"),)}, "set by the unit itself"),
        ({"environment": (("FKS_RELEASE_ID", "x"),)}, "set by the unit itself"),
        ({"environment": (("HOME", "/root"),)}, "set by the unit itself"),
        ({"environment": (("XDG_CACHE_HOME", "/tmp"),)}, "set by the unit itself"),
    ],
)
def test_bad_options(values_: dict[str, object], message: str) -> None:
    with pytest.raises(ProblemsError, match=re.escape(message)):
        UnitOptions(**values_)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["uvicorn", "fks_api.main:app"], "must start with an absolute path"),
        (["/opt/fks/api/current/venv/bin/uvicorn", "--port", "8000"], "--port 8000"),
        (["/opt/fks/api/current/venv/bin/uvicorn", "--port=8000"], "--port 8000"),
        (["/opt/fks/api/current/venv/bin/uvicorn", "--host", "0.0.0.0"], "--host 0.0.0.0"),
    ],
)
def test_bad_exec_start(argv: list[str], message: str) -> None:
    with pytest.raises(ProblemsError, match=re.escape(message)):
        unit_context(CATALOGUE["api"], argv, release_id=RELEASE)


def test_gpu_indices_only_for_gpu_services() -> None:
    with pytest.raises(ProblemsError, match="needs no GPU"):
        unit_context(
            CATALOGUE["api"], ["/bin/true"], UnitOptions(gpu_indices=(0,)), release_id=RELEASE
        )


# --- systemd-analyze ---------------------------------------------------------------------


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found:
        return found
    reason = "systemd-analyze not found (Debian package systemd): units cannot be checked"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def analyze_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temporary root holding the host's stock units, for ``systemd-analyze --root=``.

    ``verify`` checks that ExecStart's program exists and loads the unit's dependencies
    (network-online.target, sysinit.target...). With ``--root`` it looks for both under the
    root only, so the root gets a copy of the host's units, and each test installs its
    rendered unit at its real path in there beside an empty program at ExecStart's real
    path -- as a deploy leaves the host. The unit text checked is byte for byte the
    production text; ``test_verify_reports_a_missing_program`` shows the check still bites.
    """
    systemd_analyze()
    root = tmp_path_factory.mktemp("root")
    shutil.copytree(HOST_UNITS, root / HOST_UNITS.relative_to("/"), symlinks=True)
    yield root


def install(root: Path, service: Service, text: str, program: bool = True) -> Path:
    """Put a unit at its real path under ``root``, and a stand-in for its program."""
    unit = root / unit_path(service).lstrip("/")
    unit.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text(text, encoding="utf-8")
    executable = root / values(text, "Service", "ExecStart")[0].split()[0].lstrip("/")
    if program:
        executable.parent.mkdir(parents=True, exist_ok=True)
        executable.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
        executable.chmod(0o755)
    else:
        executable.unlink(missing_ok=True)
    return unit


def analyze(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [systemd_analyze(), "--no-pager", f"--root={root}", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )


def verify(root: Path, unit: Path) -> str:
    """Everything ``systemd-analyze verify`` says; it exits 0 on unknown keys, so any output
    at all is a failure."""
    result = analyze(root, "verify", "--man=no", "--generators=no", str(unit))
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 and not output:
        output = f"exit status {result.returncode}"
    return output


def security(root: Path, unit: Path) -> str:
    result = analyze(root, "security", "--offline=yes", str(unit))
    return result.stdout + result.stderr


def exposure(root: Path, unit: Path) -> float:
    output = security(root, unit)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", output)
    assert found, f"no exposure level in systemd-analyze security output:\n{output}"
    return float(found.group(1))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", NAMES)
def test_verify(analyze_root: Path, name: str, variant: str) -> None:
    service = CATALOGUE[name]
    unit = install(analyze_root, service, unit_for(service, variant))
    assert verify(analyze_root, unit) == ""


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", NAMES)
def test_security_exposure(analyze_root: Path, name: str, variant: str) -> None:
    service = CATALOGUE[name]
    unit = install(analyze_root, service, unit_for(service, variant))
    assert exposure(analyze_root, unit) <= MAX_EXPOSURE[service.sandbox]


@pytest.mark.parametrize("name", ["web", "ai"])
def test_systemd_reads_the_profile_as_meant(analyze_root: Path, name: str) -> None:
    """systemd's own reading of the merged filter lines: the ml allow line re-adds
    sched_setaffinity after ``~@resources`` (and only for ml), AF_NETLINK likewise."""
    service = CATALOGUE[name]
    output = security(analyze_root, install(analyze_root, service, unit_for(service)))
    rows = {line.split()[1]: line for line in output.splitlines() if line.startswith(("✓", "✗"))}
    resources, netlink = (
        rows["SystemCallFilter=~@resources"],
        rows["RestrictAddressFamilies=~AF_NETLINK"],
    )
    if service.sandbox == "ml":
        assert "sched_setaffinity is allowed" in resources
        assert netlink.startswith("✗")
    else:
        assert "@resources is not included" in resources
        assert netlink.startswith("✓")


def test_verify_reports_an_unknown_key(analyze_root: Path) -> None:
    service = CATALOGUE["api"]
    text = unit_for(service).replace("Restart=on-failure", "Restrat=on-failure")
    assert "Restrat" in verify(analyze_root, install(analyze_root, service, text))


def test_verify_reports_a_missing_program(analyze_root: Path) -> None:
    service = CATALOGUE["auth"]
    unit = install(analyze_root, service, unit_for(service), program=False)
    assert "is not executable" in verify(analyze_root, unit)


def test_security_scores_an_unhardened_unit_badly(analyze_root: Path) -> None:
    service = CATALOGUE["api"]
    text = "[Service]\nExecStart=/opt/fks/api/current/venv/bin/uvicorn\nUser=fks\n"
    assert exposure(analyze_root, install(analyze_root, service, text)) > 5


# --- companions --------------------------------------------------------------------------

COMPANIONS = [(s.name, c) for s in CATALOGUE for c in s.companions]


def companion_for(service: Service, companion: str) -> str:
    options = UnitOptions(
        bind_address=BIND,
        ip_allow=("10.0.0.0/24",),
        after=("postgresql.service", "redis-server.service"),
    )
    argv = (f"{service.install_dir}/current/venv/bin/fks_{service.name}-{companion}",)
    return render_unit(service, argv, options, companion=companion, release_id=RELEASE)


def test_web_and_data_have_celery_companions() -> None:
    assert COMPANIONS == [("web", "worker"), ("web", "beat"), ("data", "worker"), ("data", "beat")]


@pytest.mark.parametrize(("name", "companion"), COMPANIONS)
def test_companion_unit_lines(name: str, companion: str) -> None:
    service = CATALOGUE[name]
    text = companion_for(service, companion)
    assert text.startswith(f"# fks-{name}-{companion}.service: managed by fks-infra")
    assert values(text, "Unit", "PartOf") == [service.unit]
    assert f"{service.unit}" in values(text, "Unit", "After")
    assert values(text, "Service", "EnvironmentFile") == [service.env_file]
    assert values(text, "Service", "StateDirectory") == [f"fks/{name}"]
    assert values(text, "Service", "ExecStart")[0].endswith(f"fks_{name}-{companion}")
    # The service's own identity: a companion may signal its service and share its state.
    assert values(text, "Service", "User") == [f"fks-{name}"]
    assert values(text, "Service", "Group") == [f"fks-{name}"]


@pytest.mark.parametrize(("name", "companion"), COMPANIONS)
def test_companion_verify_and_exposure(analyze_root: Path, name: str, companion: str) -> None:
    service = CATALOGUE[name]
    text = companion_for(service, companion)
    unit = analyze_root / "etc/systemd/system" / service.companion_unit(companion)
    unit.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text(text, encoding="utf-8")
    program = analyze_root / values(text, "Service", "ExecStart")[0].lstrip("/")
    program.parent.mkdir(parents=True, exist_ok=True)
    program.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    program.chmod(0o755)
    # PartOf= names the service's unit: it exists beside the companion, as on a host.
    install(analyze_root, service, unit_for(service))
    assert verify(analyze_root, unit) == ""
    assert exposure(analyze_root, unit) <= MAX_EXPOSURE[service.sandbox]


def test_a_service_has_only_its_declared_companions() -> None:
    with pytest.raises(ProblemsError, match="api has no companion 'worker'"):
        render_unit(CATALOGUE["api"], ["/bin/true"], companion="worker", release_id=RELEASE)


def test_bad_after_unit_is_refused() -> None:
    with pytest.raises(ProblemsError, match="is not a unit name"):
        UnitOptions(after=("postgresql; rm -rf /",))


# --- identities --------------------------------------------------------------------------

#: What systemd accepts in User=/Group= (user-util.c, valid_user_group_name): at most 31
#: characters; useradd takes 32.
SYSTEMD_USER = re.compile(r"[a-z_][a-z0-9_-]{0,30}")


def test_every_service_has_its_own_user_named_after_its_unit() -> None:
    users = [service.user for service in CATALOGUE]
    assert len(set(users)) == len(users) == 19
    for service in CATALOGUE:
        assert service.user == service.unit.removesuffix(".service")
        assert SYSTEMD_USER.fullmatch(service.user), service.user
    assert CATALOGUE["data_ingestion"].user == "fks-data_ingestion"


def test_a_service_name_too_long_for_its_user_is_refused() -> None:
    fields = CATALOGUE["api"].model_dump()
    with pytest.raises(ValueError, match="at most 27 characters"):
        Service(**{**fields, "name": "a" * 28})
    assert Service(**{**fields, "name": "a" * 27}).user == "fks-" + "a" * 27


def test_the_user_is_no_host_option() -> None:
    assert "user" not in {field.name for field in dataclasses.fields(UnitOptions)}
    with pytest.raises(TypeError):
        UnitOptions(user="fks")  # type: ignore[call-arg]


def test_the_removed_shared_user_setting_says_what_replaced_it() -> None:
    _, problems = parse_settings({"fks_service_user": "fks"}, {"fks_service_user": "inv.py"})
    assert [(p.key, p.message) for p in problems] == [
        (
            "fks_service_user",
            "unknown setting: each service now runs as its own system user, fks-<name> "
            "(catalogue.Service.user); remove this key",
        )
    ]
