"""From the bridge host: the Windows side's endpoints answer (meta/ninja health: test_services).

A check skips, saying why, where its endpoint is not to be checked; it never passes silently.
"""

from __future__ import annotations

import shlex

import pytest
import testinfra.backend
import testinfra.host
from pydantic import SecretStr
from testinfra.backend.base import CommandResult

from fks_infra.bridges import WINRM_PASSWORD, url_endpoint, winrm_connection
from fks_infra.checks.fleet import HostTarget, connect

#: One bounded TCP connect from the bridge host; exits 0 when it was accepted.
CONNECT = (
    "python3 -c 'import socket, sys; "
    "socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()' "
)
#: One HTTP GET from the bridge host; prints the status code (an HTTP error code counts:
#: the bridge answered).
GET = (
    "python3 -c 'import sys, urllib.request as u, urllib.error as e\n"
    "try: print(u.urlopen(sys.argv[1], timeout=5).status)\n"
    "except e.HTTPError as err: print(err.code)' "
)


def endpoint(target: HostTarget) -> tuple[str, int]:
    settings = target.host.settings
    if not settings.fks_windows_endpoints_checked:
        pytest.skip(f"fks_windows_endpoints_checked is False for {target.host.name}")
    if target.thing == "ninjatrader":
        if settings.fks_ninjatrader_host is None or settings.fks_ninjatrader_port is None:
            pytest.skip(f"no NinjaTrader endpoint configured for {target.host.name}")
        return str(settings.fks_ninjatrader_host), settings.fks_ninjatrader_port
    if settings.fks_mt5_bridge_url is None:
        pytest.skip(f"no MT5 bridge URL configured for {target.host.name}")
    return url_endpoint(settings.fks_mt5_bridge_url)


def test_reachable(windows_endpoint: HostTarget) -> None:
    address, port = endpoint(windows_endpoint)
    command = f"{CONNECT} {shlex.quote(address)} {port}"
    result = connect(windows_endpoint.host.name).run(command)
    assert result.rc == 0, (
        f"{windows_endpoint.thing} at {address}:{port} does not accept TCP connections from "
        f"{windows_endpoint.host.name}: {result.stderr.strip().splitlines()[-1:]}"
    )


def test_http_answers(windows_endpoint: HostTarget) -> None:
    if windows_endpoint.thing != "mt5":
        pytest.skip("NinjaTrader speaks its own TCP protocol, not HTTP")
    endpoint(windows_endpoint)
    url = windows_endpoint.host.settings.fks_mt5_bridge_url
    assert url is not None  # endpoint() skipped otherwise
    result = connect(windows_endpoint.host.name).run(f"{GET} {shlex.quote(url)}")
    assert result.rc == 0 and result.stdout.strip().isdigit(), (
        f"the MT5 bridge at {url} did not answer HTTP from {windows_endpoint.host.name}: "
        f"{result.stderr.strip().splitlines()[-1:]}"
    )


def winrm_host(spec: str, password: SecretStr) -> testinfra.host.Host:
    """A testinfra host over WinRM (pywinrm), its password handed to the backend apart from
    ``spec``: the spec is what pytest shows (``-l`` locals, ids, JUnit reports)."""
    backend = testinfra.backend.get_backend(spec)
    # WinRMBackend keeps pywinrm's Protocol arguments here; its hostspec gave no password.
    backend.conn_args["password"] = password.get_secret_value()
    return testinfra.host.Host(backend)


def run_over_winrm(host: testinfra.host.Host, command: str, password: SecretStr) -> CommandResult:
    """``host.run(command)``; a failure of pywinrm or requests is raised again as a plain
    ``AssertionError`` without its traceback, whose frames hold the password (pytest ``-l``
    prints every frame's locals), and with the password cut out of its message."""
    why = ""
    try:
        return host.run(command)
    except Exception as error:  # any failure of the transport
        why = f"{type(error).__name__}: {error}".replace(password.get_secret_value(), "***")
    raise AssertionError(f"WinRM to {host.backend.get_hostname()} failed: {why}")


def test_windows_side_over_winrm(windows_endpoint: HostTarget) -> None:
    """The process behind the endpoint runs on the Windows host (testinfra's WinRM backend)."""
    plan = windows_endpoint.host
    password = plan.secrets.get(WINRM_PASSWORD)
    spec = winrm_connection(plan.settings)
    if spec is None or password is None:
        pytest.skip(f"fks_windows_winrm_host is not set for {plan.name}")
    process = {"ninjatrader": "NinjaTrader", "mt5": "terminal64"}[windows_endpoint.thing]
    result = run_over_winrm(winrm_host(spec, password), f"Get-Process -Name {process}", password)
    assert result.rc == 0, f"{process} is not running on {plan.settings.fks_windows_winrm_host}"
