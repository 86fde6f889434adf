"""The demo stand-ins, run as a host would run them: shipped, verified, installed offline.

Each test ships a built release into a fresh directory (as a deploy copies it),
checks it with the standalone host script, installs it with the release's own
install commands and no package index, and starts it on a free loopback port.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from fks_infra.catalogue import CATALOGUE
from fks_infra.distro import SUPPORTED
from fks_infra.releases import (
    DEFAULT_DEMO_DIR,
    MANIFEST_NAME,
    VERIFY_SCRIPT,
    Behaviour,
    DemoSource,
    Language,
    PythonTarget,
    Release,
    build_release,
)

SERVICES: list[tuple[str, Language]] = [("api", "python"), ("auth", "rust")]
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


@pytest.fixture(scope="session")
def release_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache per session, shared by the test files: one download, one cargo build."""
    return tmp_path_factory.getbasetemp() / "release-cache"


@pytest.fixture(scope="session")
def installed() -> dict[tuple[str, Behaviour | None], tuple[Release, Path]]:
    """Releases shipped and installed so far: each (service, behaviour) once per session."""
    return {}


def _install(
    name: str,
    language: Language,
    behaviour: Behaviour | None,
    cache: Path,
    hosts: pytest.TempPathFactory,
    done: dict[tuple[str, Behaviour | None], tuple[Release, Path]],
) -> tuple[Release, Path]:
    """Build, ship to a fresh host directory, verify there and install offline."""
    if (name, behaviour) not in done:
        release = build_release(name, language, DemoSource(DEFAULT_DEMO_DIR), cache, behaviour)
        host_dir = _ship(release, hosts.mktemp(f"host-{name}"))
        for step in release.install:
            subprocess.run(step, cwd=host_dir, env=_bare_host_env(), check=True, timeout=180)
        done[(name, behaviour)] = (release, host_dir)
    return done[(name, behaviour)]


def _ship(release: Release, host_root: Path) -> Path:
    """Copy a release into ``host_root/<release id>`` as a deploy does, and verify it there."""
    host_dir = host_root / release.release_id
    for shipped in [*(f.path for f in release.files), MANIFEST_NAME]:
        (host_dir / shipped).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(release.directory / shipped, host_dir / shipped)
    check = [sys.executable, "-I", str(VERIFY_SCRIPT), str(host_dir)]
    subprocess.run([*check, "--manifest-sha256", release.manifest_sha256], check=True)
    return host_dir


def _bare_host_env() -> dict[str, str]:
    """An environment without this machine's pip configuration, like a fresh host."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(
    release: Release, host_dir: Path, port: int | None, extra: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    env = {**_bare_host_env(), "SERVICE_HOST": "127.0.0.1", "FKS_RELEASE_ID": release.release_id}
    env.pop("SERVICE_PORT", None)
    env.pop("FKS_DEMO_EGRESS_URL", None)
    env.update(extra or {})
    argv = list(release.command_for("127.0.0.1", port or 0))
    if port is not None:
        env["SERVICE_PORT"] = str(port)
    elif release.language == "python":
        # Without SERVICE_PORT a unit's ExecStart could not even expand ${SERVICE_PORT};
        # give uvicorn some port so that the refusal comes from the app itself.
        argv[argv.index("--port") + 1] = str(_free_port())
    argv[0] = str(host_dir / argv[0])
    return subprocess.Popen(
        argv, cwd=host_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _get(port: int, path: str) -> tuple[int, str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read().decode()
    finally:
        connection.close()


def _wait_listening(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"service exited with {process.returncode}:\n{process.communicate()[0]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    process.kill()
    pytest.fail(f"service did not listen on {port} within {START_TIMEOUT}s")


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM, then the exit status and all output once the process is gone."""
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"no exit within {STOP_TIMEOUT}s of SIGTERM:\n{output}")
    return process.returncode, output


def assert_clean_stop(returncode: int, output: str, language: Language) -> None:
    """Rust exits 0. uvicorn (>= 0.29) shuts down gracefully and then re-raises SIGTERM
    on itself, which systemd counts as a clean stop; require the graceful part."""
    if language == "python":
        assert returncode in (0, -signal.SIGTERM), output
        assert "Application shutdown complete" in output
    else:
        assert returncode == 0, output


@pytest.fixture
def run_service(
    release_cache: Path,
    tmp_path_factory: pytest.TempPathFactory,
    installed: dict[tuple[str, Behaviour | None], tuple[Release, Path]],
) -> Iterator[object]:
    """Start a demo service; whatever a test leaves running is killed afterwards."""
    started: list[subprocess.Popen[str]] = []

    def run(
        name: str,
        language: Language,
        behaviour: Behaviour | None = None,
        port: int | None = 0,
        env: dict[str, str] | None = None,
    ) -> tuple[Release, subprocess.Popen[str], int]:
        release, host_dir = _install(
            name, language, behaviour, release_cache, tmp_path_factory, installed
        )
        chosen = _free_port() if port == 0 else port
        process = _start(release, host_dir, chosen, env)
        started.append(process)
        return release, process, chosen or 0

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


# Prometheus text exposition 0.0.4: comment lines and samples, checked here by hand.
_METRIC = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_SAMPLE = re.compile(
    rf"(?P<name>{_METRIC})(?:\{{(?P<labels>{_LABEL}(?:,{_LABEL})*)?\}})?"
    r" (?P<value>[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|NaN|Inf))(?: -?\d+)?"
)
_HELP = re.compile(rf"# HELP (?P<name>{_METRIC}) .*")
_TYPE = re.compile(rf"# TYPE (?P<name>{_METRIC}) (?P<type>counter|gauge|histogram|summary|untyped)")


def parse_exposition(text: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str], float]]]:
    """Return metric types and samples; fail on any line the format does not allow."""
    assert text.endswith("\n"), "exposition must end with a newline"
    types: dict[str, str] = {}
    samples: list[tuple[str, dict[str, str], float]] = []
    for line in text.splitlines():
        if match := _TYPE.fullmatch(line):
            assert match["name"] not in types, f"second TYPE line for {match['name']}"
            types[match["name"]] = match["type"]
        elif _HELP.fullmatch(line):
            continue
        elif match := _SAMPLE.fullmatch(line):
            assert match["name"] in types, f"sample before its TYPE line: {line}"
            labels = dict(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', match["labels"] or ""))
            samples.append((match["name"], labels, float(match["value"])))
        else:
            pytest.fail(f"not a valid exposition line: {line!r}")
    return types, samples


@pytest.mark.parametrize(("name", "language"), SERVICES)
def test_service_answers_health_and_metrics_and_stops_on_sigterm(
    run_service, name: str, language: Language
) -> None:
    release, process, port = run_service(name, language)
    _wait_listening(process, port)

    status, content_type, body = _get(port, "/health")
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == {
        "service": name,
        "port": port,
        "status": "ok",
        "release": release.release_id,
    }
    assert _get(port, "/nowhere")[0] == 404

    status, content_type, text = _get(port, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    types, samples = parse_exposition(text)
    assert types["fks_http_requests_total"] == "counter"
    assert types["process_start_time_seconds"] == "gauge"
    requests = {s[1]["path"]: s[2] for s in samples if s[0] == "fks_http_requests_total"}
    assert requests["/health"] == 1
    assert requests["other"] == 1  # unknown paths share one series
    start = next(s[2] for s in samples if s[0] == "process_start_time_seconds")
    assert time.time() - 300 < start <= time.time()
    info = [s for s in samples if s[0] == "fks_service_info"]
    assert info == [("fks_service_info", {"service": name, "release": release.release_id}, 1.0)]

    returncode, output = _stop(process)
    assert_clean_stop(returncode, output, language)
    request_lines = [line for line in output.splitlines() if f'fks_{name} 127.0.0.1 "GET' in line]
    assert len(request_lines) == 3, output


@pytest.mark.parametrize(("name", "language"), SERVICES)
def test_health_fail_release_answers_503(run_service, name: str, language: Language) -> None:
    _, process, port = run_service(name, language, Behaviour.HEALTH_FAIL)
    _wait_listening(process, port)
    for _ in range(3):  # "forever": not a start-up glitch
        status, _, body = _get(port, "/health")
        assert status == 503
        assert json.loads(body)["status"] != "ok"
    assert_clean_stop(*_stop(process), language)


@pytest.mark.parametrize(("name", "language"), SERVICES)
def test_crash_release_exits_non_zero(run_service, name: str, language: Language) -> None:
    _, process, _ = run_service(name, language, Behaviour.CRASH)
    output, _ = process.communicate(timeout=START_TIMEOUT)
    assert process.returncode != 0
    assert "built to crash" in output


@pytest.mark.parametrize(("name", "language"), SERVICES)
def test_missing_service_port_is_refused_clearly(
    run_service, name: str, language: Language
) -> None:
    _, process, _ = run_service(name, language, port=None)
    output, _ = process.communicate(timeout=START_TIMEOUT)
    assert process.returncode != 0
    assert f"fks_{name}: SERVICE_PORT is not set; refusing to start" in output


#: The needs ``GET /probe/sandbox`` checks (issue #16), each answered {"ok", "error"}.
SANDBOX_CHECKS = ("cache", "home", "affinity", "interfaces")
PROBE_FILE = "fks-demo-sandbox-probe"


@pytest.mark.parametrize(("name", "language"), SERVICES)
def test_sandbox_probe_writes_cache_and_home_pins_cpus_and_lists_interfaces(
    run_service, name: str, language: Language, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside any sandbox every need is met, and the writes land where the unit says."""
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    cache.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CACHE_DIRECTORY", str(cache))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-the-cache"))
    _, process, port = run_service(name, language)
    _wait_listening(process, port)
    status, content_type, body = _get(port, "/probe/sandbox")
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == {check: {"ok": True, "error": ""} for check in SANDBOX_CHECKS}
    # $CACHE_DIRECTORY (systemd's) wins over XDG_CACHE_HOME.
    assert (cache / PROBE_FILE).read_text().startswith("written by pid")
    assert (home / PROBE_FILE).read_text().startswith("written by pid")
    assert_clean_stop(*_stop(process), language)


@pytest.mark.parametrize(("name", "language"), SERVICES)
def test_sandbox_probe_names_what_failed(
    run_service, name: str, language: Language, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a unit without a cache directory and with HOME=/nonexistent (a system user's)."""
    monkeypatch.setenv("HOME", str(tmp_path / "nonexistent"))
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    _, process, port = run_service(name, language)
    _wait_listening(process, port)
    answer = json.loads(_get(port, "/probe/sandbox")[2])
    assert answer["cache"] == {
        "ok": False,
        "error": "neither CACHE_DIRECTORY nor XDG_CACHE_HOME is set",
    }
    assert answer["home"]["ok"] is False
    assert answer["home"]["error"].startswith("[Errno 2] No such file or directory: ")
    assert str(tmp_path / "nonexistent" / PROBE_FILE) in answer["home"]["error"]
    assert_clean_stop(*_stop(process), language)


TASKS = sorted({(s.name, t) for s in CATALOGUE for t in (*s.companions, *s.pre_start)})


@pytest.mark.parametrize(("name", "task"), TASKS, ids=[f"{n}-{t}" for n, t in TASKS])
def test_release_ships_each_task_the_catalogue_declares(
    release_cache: Path,
    tmp_path_factory: pytest.TempPathFactory,
    installed: dict[tuple[str, Behaviour | None], tuple[Release, Path]],
    name: str,
    task: str,
) -> None:
    """The installed venv has the task's console script; without its datastore it fails loudly."""
    release, host_dir = _install(name, "python", None, release_cache, tmp_path_factory, installed)
    program, *arguments = release.task_command(task)
    assert (host_dir / program).is_file(), f"{program} missing from the {name} release"
    env = {
        k: v for k, v in _bare_host_env().items() if k not in ("DATABASE_URL", "STATE_DIRECTORY")
    }
    env.pop("CELERY_BROKER_URL", None)
    done = subprocess.run(
        [str(host_dir / program), *arguments],
        cwd=host_dir, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"fks_{name} {task}: failed:" in done.stderr


# --- the compiled dependency, on each target's interpreter ---------------------------------


def _assert_compiled(port: int, python: str) -> None:
    """``/compiled`` answers from MarkupSafe's C extension, built for ``python``."""
    status, content_type, body = _get(port, "/compiled")
    assert (status, content_type) == (200, "application/json")
    tag = python.replace(".", "")
    assert json.loads(body) == {
        "module": "markupsafe._speedups",
        "file": f"_speedups.cpython-{tag}-x86_64-linux-gnu.so",
        "markupsafe": "3.0.4",
        "python": python,
        "sample": '<fks & "demo">',
        "escaped": "&lt;fks &amp; &#34;demo&#34;&gt;",
    }


def _python_version(interpreter: str) -> str | None:
    """``MAJOR.MINOR`` of an interpreter that can make a venv with pip, or None."""
    probe = "import ensurepip, sys, venv; print('%d.%d' % sys.version_info[:2])"
    try:
        done = subprocess.run(
            [interpreter, "-c", probe], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _interpreter(version: str) -> str | None:
    """A CPython ``version`` on this machine (on PATH or installed by pyenv), or None."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [
        shutil.which(f"python{version}"),
        *map(str, sorted(pyenv.glob(f"{version}.*/bin/python{version}"))),
    ]
    return next(
        (found for found in candidates if found and _python_version(found) == version), None
    )


def _host_env(interpreter: str, bin_dir: Path) -> dict[str, str]:
    """A bare host environment whose ``python3`` is ``interpreter``."""
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(interpreter)
    env = _bare_host_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return env


def test_python_service_answers_compiled(run_service) -> None:
    _, process, port = run_service("api", "python")
    _wait_listening(process, port)
    _assert_compiled(port, "3.11")  # the default target: Debian 12's Python
    assert_clean_stop(*_stop(process), "python")


@pytest.mark.parametrize("distro", SUPPORTED, ids=[d.codename for d in SUPPORTED])
def test_each_target_loads_its_compiled_wheel_on_its_python(
    distro, release_cache: Path, tmp_path: Path
) -> None:
    """A release for a target installs offline with that Python and imports its wheel.

    This machine's glibc stands in for the host's: MarkupSafe's wheel needs glibc 2.17.
    """
    interpreter = _interpreter(distro.python)
    if interpreter is None:
        pytest.skip(f"no Python {distro.python} with venv on this machine")
    target = PythonTarget.of(distro)
    release = build_release(
        "api", "python", DemoSource(DEFAULT_DEMO_DIR), release_cache, None, target
    )
    host_dir = _ship(release, tmp_path / "host")
    env = _host_env(interpreter, tmp_path / "bin")
    for step in release.install:
        subprocess.run(step, cwd=host_dir, env=env, check=True, timeout=180, capture_output=True)
    port = _free_port()
    process = _start(release, host_dir, port)
    try:
        _wait_listening(process, port)
        _assert_compiled(port, distro.python)
        assert json.loads(_get(port, "/health")[2])["status"] == "ok"
        assert_clean_stop(*_stop(process), "python")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_a_release_for_another_python_does_not_install(release_cache: Path, tmp_path: Path) -> None:
    """The host's pip refuses a compiled wheel built for another interpreter: the install
    step fails loudly, before anything goes live."""
    here = _python_version("python3")
    if here is None:
        pytest.skip("no python3 with venv on PATH")
    other = next(d for d in SUPPORTED if d.python != here)
    release = build_release(
        "api", "python", DemoSource(DEFAULT_DEMO_DIR), release_cache, None, PythonTarget.of(other)
    )
    host_dir = _ship(release, tmp_path)
    venv, pip = (
        subprocess.run(
            step, cwd=host_dir, env=_bare_host_env(), capture_output=True, text=True, timeout=180
        )
        for step in release.install
    )
    assert venv.returncode == 0, venv.stderr
    assert pip.returncode != 0
    assert "markupsafe" in (pip.stdout + pip.stderr).lower()


# -- GET /probe/egress: the stand-ins reach (or not) the endpoint their unit names ----------


class _Endpoint(http.server.BaseHTTPRequestHandler):
    """A stand-in outside endpoint on loopback: answers 204, records who came."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("User-Agent", ""))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[str]]]:
    """An HTTP endpoint on a free loopback port for one test: (its URL, User-Agents seen)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    _Endpoint.seen = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", _Endpoint.seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _probe(run_service, name: str, language: Language, env: dict[str, str]) -> tuple[int, dict]:
    _, process, port = run_service(name, language, env=env)
    _wait_listening(process, port)
    status, content_type, body = _get(port, "/probe/egress")
    assert content_type == "application/json"
    return status, json.loads(body)


@pytest.mark.parametrize(("name", "language"), SERVICES)
def test_egress_probe_without_a_target_says_so(run_service, name: str, language: Language) -> None:
    assert _probe(run_service, name, language, {}) == (
        404,
        {"url": None, "reached": False, "error": "FKS_DEMO_EGRESS_URL not set"},
    )


@pytest.mark.parametrize(("name", "language"), SERVICES)
def test_egress_probe_reaches_a_listening_endpoint(
    run_service, endpoint: tuple[str, list[str]], name: str, language: Language
) -> None:
    url, seen = endpoint
    answer = _probe(run_service, name, language, {"FKS_DEMO_EGRESS_URL": url})
    assert answer == (200, {"url": url, "reached": True, "error": ""})
    assert seen == [f"fks_{name}"]


@pytest.mark.parametrize(("name", "language"), SERVICES)
def test_egress_probe_reports_a_refused_connection(
    run_service, name: str, language: Language
) -> None:
    url = f"http://127.0.0.1:{_free_port()}/"
    status, answer = _probe(run_service, name, language, {"FKS_DEMO_EGRESS_URL": url})
    assert (status, answer["url"], answer["reached"]) == (200, url, False)
    assert "refused" in answer["error"].lower(), answer


@pytest.mark.parametrize(("name", "language"), SERVICES)
def test_egress_probe_gives_up_on_a_silent_endpoint_within_its_bound(
    run_service, name: str, language: Language
) -> None:
    with socket.socket() as silent:  # the kernel accepts connections; nobody answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        _, process, port = run_service(name, language, env={"FKS_DEMO_EGRESS_URL": url})
        _wait_listening(process, port)
        started = time.monotonic()
        status, _, body = _get(port, "/probe/egress")
        elapsed = time.monotonic() - started
    assert (status, json.loads(body)) == (
        200,
        {"url": url, "reached": False, "error": "no answer within 2 s"},
    )
    assert 1.5 < elapsed < 4.0


@pytest.mark.parametrize(("name", "language"), SERVICES)
@pytest.mark.parametrize(
    "url", ["https://127.0.0.1:1/", "http://localhost:80/", "http://127.0.0.1/"]
)
def test_egress_probe_refuses_a_target_that_is_no_address_and_port(
    run_service, name: str, language: Language, url: str
) -> None:
    status, answer = _probe(run_service, name, language, {"FKS_DEMO_EGRESS_URL": url})
    assert (status, answer["reached"]) == (500, False)
    assert "is not http://ADDRESS:PORT/" in answer["error"]
