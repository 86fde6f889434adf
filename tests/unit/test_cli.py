"""The fks-infra command line, run as a user runs it: the installed script, in a project dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from seed_table import seed_text

from fks_infra.catalogue import CATALOGUE
from fks_infra.plan import POSTGRES_PASSWORD, REDIS_PASSWORD, TAILSCALE_AUTHKEY

REPO = Path(__file__).resolve().parents[2]
FKS_INFRA = Path(sys.executable).with_name("fks-infra")
# Every secret a host may need: its services', the datastores' and Tailscale's auth key.
SECRETS = sorted(
    {name for service in CATALOGUE for name in service.secrets}
    | {TAILSCALE_AUTHKEY, POSTGRES_PASSWORD, REDIS_PASSWORD}
)
GOOD = """
core = [("core-1", {"ssh_hostname": "192.0.2.10"})]
gpu = [("gpu-1", {"ssh_hostname": "192.0.2.20"})]
bridge = [("bridge-1", {"ssh_hostname": "192.0.2.30", "fks_ninjatrader_host": "192.0.2.200",
                         "fks_ninjatrader_port": 36973,
                         "fks_mt5_bridge_url": "http://192.0.2.200:18080/"})]
"""


def run(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FKS_INFRA), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's group_data with a valid inventory and a private secrets file."""
    shutil.copytree(REPO / "group_data", tmp_path / "group_data")
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory/site.py").write_text(GOOD)
    secrets = tmp_path / "secrets/fks.toml"
    secrets.parent.mkdir()
    secrets.write_text("".join(f"{name} = 'canary-{name}'\n" for name in SECRETS))
    secrets.chmod(0o600)
    return tmp_path


def test_ports_markdown_is_the_committed_docs_ports_md() -> None:
    result = run("ports", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO / "docs/PORTS.md").read_text(encoding="utf-8"), (
        "docs/PORTS.md is stale: run `fks-infra ports --format markdown > docs/PORTS.md`"
    )


def test_ports_markdown_reproduces_the_seed_table_with_a_proper_dash() -> None:
    seed_table = [
        line
        for line in seed_text().splitlines()
        if line.startswith("| 80") or line.startswith("| Port") or line.startswith("|---")
    ]
    ours = run("ports", "--format", "markdown").stdout.splitlines()
    start = ours.index(seed_table[0])
    assert ours[start : start + len(seed_table)] == seed_table
    assert "| 8010 | main | Rust | fks_main – Rust orchestrator |" in ours


def test_ports_json_lists_derived_names() -> None:
    services = json.loads(run("ports", "--format", "json").stdout)["services"]
    assert len(services) == 19
    assert services[1]["unit"] == "fks-api.service"
    assert services[1]["port"] == 8001 and services[1]["role"] == "core"


def test_check_passes_on_a_valid_inventory(project: Path) -> None:
    result = run("check", "inventory/site.py", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "inventory/site.py: ok (3 hosts, 19 service placements" in result.stdout


def test_check_passes_on_the_example_prod_inventory_with_secrets_from_the_environment() -> None:
    env = {f"FKS_SECRET_{name}": "x" for name in SECRETS}
    result = run("check", "inventory/prod.py", env=env)
    assert result.returncode == 0, result.stderr


def test_plan_shows_host_role_service_port(project: Path) -> None:
    result = run("plan", "inventory/site.py", cwd=project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Host", "Roles", "Service", "Port", "Language"]
    assert "gpu-1     gpu             ai                   8007  python" in lines
    assert "core-1    core+datastore  web                  8000  python" in lines
    assert len(lines) == 2 + 19


BAD_INPUTS = {
    "duplicate port via an override": (
        'gpu = [("gpu-1", {"fks_port_overrides": {"ai": 8011}})]',
        "inventory/site.py: host gpu-1: fks_port_overrides: "
        "port 8011 is used by both ai and training",
    ),
    "port out of range": (
        'gpu = [("gpu-1", {"fks_port_overrides": {"ai": 8099}})]',
        "ai is on port 8099, outside the gpu range 8000-8013",
    ),
    "group mixture that places nothing": (
        'gpus = [("gpu-1", {})]',
        "host gpu-1: host is in no role group (its groups: gpus, site); roles are core, gpu, "
        "bridge, datastore; did you mean gpu?",
    ),
    "unknown fks key": (
        'gpu = [("gpu-1", {"fks_service_skip": ["ai"]})]',
        "inventory/site.py: host gpu-1: fks_service_skip: unknown setting; "
        "did you mean fks_services_skip?",
    ),
    "host data of the wrong type": (
        'gpu = [("gpu-1", {"fks_services_extra": 7})]',
        "inventory/site.py: host gpu-1: fks_services_extra: Input should be a valid tuple (got 7)",
    ),
    "syntax error in the inventory": (
        'gpu = [("gpu-1", {)]',
        "inventory/site.py:",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_check_refuses_bad_input_naming_problem_and_place(project: Path, case: str) -> None:
    replacement, expected = BAD_INPUTS[case]
    inventory = project / "inventory/site.py"
    lines = [line for line in GOOD.splitlines() if not line.startswith("gpu =")]
    inventory.write_text("\n".join([*lines, replacement, ""]))
    result = run("check", "inventory/site.py", cwd=project)
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_check_names_a_missing_secret_never_a_value(project: Path) -> None:
    secrets = project / "secrets/fks.toml"
    secrets.write_text(secrets.read_text().replace("MT5_PASSWORD", "MT5_PASSWRD"))
    result = run("check", "inventory/site.py", cwd=project)
    assert result.returncode == 2
    assert (
        "group_data/all.py: host bridge-1: missing secret MT5_PASSWORD (needed by meta): "
        "set FKS_SECRET_MT5_PASSWORD or add it to secrets/fks.toml"
    ) in result.stderr
    assert "canary" not in result.stderr + result.stdout


def test_secrets_init_refuses_a_symlinked_secrets_file_without_a_traceback(project: Path) -> None:
    secrets = project / "secrets/fks.toml"
    elsewhere = project / "elsewhere.toml"
    secrets.replace(elsewhere)
    secrets.symlink_to(elsewhere)
    result = run("secrets", "init", "inventory/site.py", cwd=project)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "secrets/fks.toml" in result.stderr
    assert "canary" not in result.stderr + result.stdout


def test_check_reports_an_error_raised_in_group_data_without_a_traceback(project: Path) -> None:
    (project / "group_data/gpu.py").write_text("fks_services_extra = undefined_name\n")
    result = run("check", "inventory/site.py", cwd=project)
    assert result.returncode == 2
    assert "gpu.py: NameError: name 'undefined_name' is not defined" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_a_missing_inventory_file(project: Path) -> None:
    result = run("check", "inventory/nope.py", cwd=project)
    assert result.returncode == 2
    assert "inventory/nope.py: no such inventory file" in result.stderr


def test_check_refuses_a_host_name_carrying_a_line_break_naming_file_host_and_key(
    project: Path,
) -> None:
    """Issue #15: such a name landed in a comment of a peer's nftables.conf, and the line
    after the break became a rule. check stops, the name escaped so it forges no line."""
    inventory = project / "inventory/site.py"
    inventory.write_text(
        GOOD.replace('"core-1"', '"core-1\\ntcp dport 1-65535 accept"', 1), encoding="utf-8"
    )
    result = run("check", "inventory/site.py", cwd=project)
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "  - inventory/site.py: host 'core-1\\ntcp dport 1-65535 accept': name: the inventory "
        "name holds the unprintable character U+000A at position 6"
    ) in result.stderr.splitlines()[1]
    assert not any(line.startswith("tcp dport") for line in result.stderr.splitlines())
    assert "Traceback" not in result.stderr


def test_status_refuses_an_ssh_hostname_carrying_a_proxycommand_before_connecting(
    project: Path,
) -> None:
    """Issue #15: status wrote the value into the ssh_config it connects with, and ran the
    ProxyCommand on this machine. Now the plan refuses it before anything is written."""
    owned = project / "owned"
    inventory = project / "inventory/site.py"
    inventory.write_text(
        GOOD.replace('"192.0.2.10"', f'"192.0.2.10\\nProxyCommand touch {owned}"', 1),
        encoding="utf-8",
    )
    result = run("status", "inventory/site.py", cwd=project)
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "inventory/site.py: host core-1: ssh_hostname: holds the unprintable character U+000A"
        in result.stderr
    )
    assert not owned.exists()


def read_hujson(text: str) -> object:
    """Drop whole-line // comments and trailing commas, then parse as JSON."""
    import re

    lines = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    return json.loads(re.sub(r",\s*([\]}])", r"\1", "\n".join(lines)))


def test_tailscale_policy_needs_no_secrets_and_writes_the_output_file(project: Path) -> None:
    (project / "secrets/fks.toml").unlink()
    result = run("tailscale-policy", "inventory/site.py", "--output", "tailnet.hujson", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    policy = read_hujson((project / "tailnet.hujson").read_text())
    assert isinstance(policy, dict)
    assert sorted(policy) == ["grants", "tagOwners", "tests"]
    assert {"src": ["tag:fks-core"], "dst": ["tag:fks-gpu"], "ip": ["tcp:8007", "tcp:8011"]} in (
        policy["grants"]
    )
    printed = run("tailscale-policy", "inventory/site.py", cwd=project)
    assert printed.stdout == (project / "tailnet.hujson").read_text()


def test_tailscale_policy_rejects_a_tag_nobody_owns(project: Path) -> None:
    with (project / "group_data/all.py").open("a") as handle:
        handle.write('\nfks_tailscale_tag_owners = ["tag:ci"]\n')
    result = run("tailscale-policy", "inventory/site.py", "-o", "tailnet.hujson", cwd=project)
    assert result.returncode == 2
    assert "tag:ci is used in tagOwners['tag:fks-core'] but has no tagOwners entry" in (
        result.stderr
    )
    assert not (project / "tailnet.hujson").exists()


def test_tailscale_policy_rejects_a_wildcard_admin(project: Path) -> None:
    with (project / "group_data/all.py").open("a") as handle:
        handle.write('\nfks_tailscale_admins = ["*"]\n')
    result = run("tailscale-policy", "inventory/site.py", cwd=project)
    assert result.returncode == 2
    assert "fks_tailscale_admins:" in result.stderr and "no wildcards" in result.stderr


def test_tailscale_policy_of_an_inventory_without_tailscale_is_an_error(project: Path) -> None:
    with (project / "group_data/all.py").open("a") as handle:
        handle.write("\nfks_tailscale_enabled = False\n")
    result = run("tailscale-policy", "inventory/site.py", cwd=project)
    assert result.returncode == 2
    assert "no host joins the tailnet" in result.stderr


def test_check_names_a_missing_tailscale_auth_key(project: Path) -> None:
    secrets = project / "secrets/fks.toml"
    secrets.write_text(secrets.read_text().replace("TAILSCALE_AUTHKEY", "TAILSCALE_AUTH"))
    result = run("check", "inventory/site.py", cwd=project)
    assert result.returncode == 2
    assert "missing secret TAILSCALE_AUTHKEY" in result.stderr
    assert "canary" not in result.stderr + result.stdout


def lose_secrets(project: Path, *names: str) -> None:
    """Rename secrets in the project's secrets file, so that they are missing."""
    secrets = project / "secrets/fks.toml"
    text = secrets.read_text()
    for name in names:
        text = text.replace(f"{name} =", f"{name}_GONE =")
    secrets.write_text(text)


def problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("  - ")]


def test_plan_shows_the_placement_and_warns_of_each_missing_secret(project: Path) -> None:
    """A first `plan` needs no secrets: check's errors about them become warnings."""
    lose_secrets(project, "MT5_PASSWORD", TAILSCALE_AUTHKEY)
    result = run("plan", "inventory/site.py", cwd=project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Host", "Roles", "Service", "Port", "Language"]
    assert "bridge-1  bridge          meta                 8005  rust" in lines
    assert len(lines) == 2 + 19
    assert result.stderr.startswith("fks-infra: warning in inventory/site.py: 4 problems found")
    check = run("check", "inventory/site.py", cwd=project)
    assert check.returncode == 2
    assert problem_lines(result.stderr) == problem_lines(check.stderr)
    assert (
        "  - group_data/all.py: host bridge-1: missing secret MT5_PASSWORD (needed by meta): "
        "set FKS_SECRET_MT5_PASSWORD or add it to secrets/fks.toml"
    ) in problem_lines(result.stderr)
    assert "canary" not in result.stdout + result.stderr


def test_plan_as_json_without_a_secrets_file_keeps_stdout_json(project: Path) -> None:
    (project / "secrets/fks.toml").unlink()
    result = run("plan", "inventory/site.py", "--format", "json", cwd=project)
    assert result.returncode == 0, result.stderr
    hosts = json.loads(result.stdout)["hosts"]
    assert [host["host"] for host in hosts] == ["core-1", "gpu-1", "bridge-1"]
    assert sum(len(host["services"]) for host in hosts) == 19
    assert "missing secret AUTH_SECRET (needed by api, auth)" in result.stderr


def replace_gpu_host(project: Path, data: str) -> None:
    lines = [line for line in GOOD.splitlines() if not line.startswith("gpu =")]
    gpu = f'gpu = [("gpu-1", {{"ssh_hostname": "192.0.2.20", {data}}})]'
    (project / "inventory/site.py").write_text("\n".join([*lines, gpu, ""]))


def test_plan_still_refuses_other_problems_beside_missing_secrets(project: Path) -> None:
    lose_secrets(project, "MT5_PASSWORD")
    replace_gpu_host(project, '"fks_port_overrides": {"ai": 8011}')
    result = run("plan", "inventory/site.py", cwd=project)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("fks-infra: invalid in inventory/site.py: 2 problems found")
    assert "port 8011 is used by both ai and training" in result.stderr
    assert "missing secret MT5_PASSWORD" in result.stderr


def test_plan_refuses_a_placement_problem_that_missing_secrets_hid(project: Path) -> None:
    """While a secret is missing its host is not placed, so the checks across hosts wait
    (check lists only the secret); plan places every host, and so must run them."""
    lose_secrets(project, "MT5_PASSWORD")
    replace_gpu_host(project, '"fks_services_extra": ["data"]')
    assert "data must run on one host" not in run("check", "inventory/site.py", cwd=project).stderr
    result = run("plan", "inventory/site.py", cwd=project)
    assert result.returncode == 2
    assert result.stdout == ""
    assert (
        "fks-infra: invalid in inventory/site.py: 1 problem found:\n"
        "  - service data must run on one host only but is placed on core-1 and gpu-1"
    ) in result.stderr


WINRM_CANARY = "canary-winrm-p@ss:w/rd?"


def test_verify_keeps_the_winrm_password_out_of_locals_and_the_junit_report(
    project: Path,
) -> None:
    """The WinRM check fails against a closed loopback port, at -l --tb=long --junitxml:
    neither the output nor the report holds the password (in any encoding of it)."""
    site = project / "inventory/site.py"
    site.write_text(
        site.read_text().replace(
            '"fks_mt5_bridge_url"',
            '"fks_windows_winrm_host": "127.0.0.1", "fks_windows_winrm_port": 9,\n'
            '                         "fks_mt5_bridge_url"',
        )
    )
    report = project / "report.xml"
    result = run(
        "verify", "inventory/site.py", "--junitxml", str(report),
        "--", "-k", "test_windows_side_over_winrm", "-l", "--tb=long",
        cwd=project, env={"FKS_SECRET_WINDOWS_WINRM_PASSWORD": WINRM_CANARY},
    )  # fmt: skip
    for text in (result.stdout + result.stderr, report.read_text()):
        assert "canary-winrm" not in text and "p%40ss" not in text
    assert result.returncode == 1, result.stdout + result.stderr
    assert "WinRM to 127.0.0.1 failed" in result.stdout


#: Every secret the example inventory below needs, with a canary valid for its consumer.
EVERY_SECRET = {
    **{name: f"canary-{name}" for name in SECRETS},
    "WINDOWS_WINRM_PASSWORD": "canary-winrm p@ss:w/rd?",
    "ALERTMANAGER_WEBHOOK_URL": "https://hooks.example.org/canary-hook?token=canary",
}


@pytest.mark.parametrize(
    "command",
    [["check"], ["plan"], ["plan", "--format", "json"], ["tailscale-policy"]],
    ids=["check", "plan", "plan-json", "tailscale-policy"],
)
def test_no_command_without_hosts_shows_a_secret(project: Path, command: list[str]) -> None:
    """Every secret in use (the WinRM check and the webhook enabled), from the environment."""
    site = project / "inventory/site.py"
    site.write_text(
        site.read_text()
        .replace('"192.0.2.10"', '"192.0.2.10", "fks_alertmanager_webhook_enabled": True')
        .replace('"fks_mt5_bridge_url"',
                 '"fks_windows_winrm_host": "192.0.2.200",\n "fks_mt5_bridge_url"')
    )  # fmt: skip
    (project / "secrets/fks.toml").unlink()
    env = {f"FKS_SECRET_{name}": value for name, value in EVERY_SECRET.items()}
    result = run(command[0], "inventory/site.py", *command[1:], cwd=project, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "canary" not in result.stdout + result.stderr and "p%40ss" not in result.stdout
    lacking = run(
        "check", "inventory/site.py", cwd=project,
        env={k: v for k, v in env.items() if "WEBHOOK" not in k and "WINRM" not in k},
    )  # fmt: skip
    assert "missing secret ALERTMANAGER_WEBHOOK_URL (needed by alertmanager (monitor))" in (
        lacking.stderr
    )
    assert "missing secret WINDOWS_WINRM_PASSWORD" in lacking.stderr
