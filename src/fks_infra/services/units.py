"""The systemd unit of one FKS service: its typed render context, and the rendered unit.

Every service gets the same template (``templates/etc/systemd/system/fks-service.service.j2``);
what differs is the ``UnitContext`` built here from the ``Service`` (name, port, description,
env file, install dir, GPU need), the command line the release builder decided, and the
host's ``UnitOptions``. Values are validated and quoted for systemd here, so the template only
places them. No pyinfra import.

Identity: each service runs as its own static system user, ``Service.user`` (``fks-<name>``),
shared only by its companions and its pre-start tasks; ``User=`` and ``Group=`` are not a
host option. A process of one service cannot signal another's (the kernel checks user ids)
nor read its ``StateDirectory=`` (0700, owned by that user); the release under
``/opt/fks/<name>`` and the env file stay root's. ``DynamicUser=`` was weighed and not taken:
its uid exists only while a unit of that name runs, so the pre-start ``systemd-run`` and the
companions would share it only while running together, files it leaves are reassigned
whenever the uid changes, and the live checks (``getent``, ``ps``) could not name a stopped
service's owner; it also moves state to ``/var/lib/private``, which a host deployed with the
shared ``fks`` user would first have to migrate. A static user keeps ``/var/lib/fks/<name>``
where it is: when ``User=`` changes, systemd chowns the existing state directory to the new
user at the next start, so a host deployed with the old shared user migrates in one run
without losing data.

Writable places: the state directory (``/var/lib/fks/<name>``) is also ``HOME``, the cache
directory (``/var/cache/fks/<name>``) is ``XDG_CACHE_HOME``; both 0700 and the service
user's, made by systemd (``StateDirectory=``, ``CacheDirectory=``). Everything else is
read-only (``ProtectSystem=strict``), so libraries that write a cache or a config file
(pip, numba, matplotlib, PyTorch, Hugging Face) find them there.

Sandbox profiles (``catalogue.Sandbox``): ``plain`` keeps the whole sandbox; ``ml`` re-allows
``sched_setaffinity`` and ``AF_NETLINK``, which ML runtimes need. Each relaxation is named
and justified in the template. ``MAX_EXPOSURE`` is what ``systemd-analyze security`` may say
of each profile.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from fks_infra.catalogue import Sandbox, Service
from fks_infra.errors import Problem, ProblemsError
from fks_infra.settings import HostSettings
from fks_infra.templating import render

#: The one unit template, relative to ``templates/``.
UNIT_TEMPLATE = "etc/systemd/system/fks-service.service.j2"

#: Variables the unit sets itself; ``UnitOptions.environment`` may not set them again.
RESERVED_VARIABLES: tuple[str, ...] = (
    "SERVICE_NAME",
    "SERVICE_PORT",
    "SERVICE_HOST",
    "CUDA_DEVICE_ORDER",
    "CUDA_VISIBLE_DEVICES",
    "FKS_RELEASE_ID",
    "HOME",
    "XDG_CACHE_HOME",
)

#: Where systemd makes ``StateDirectory=fks/<name>`` and ``CacheDirectory=fks/<name>`` of a
#: system unit (``%S``, ``%C``); written out, so the same paths serve fks-rollout's pre-start
#: tasks, whose ``--setenv`` systemd does not expand.
STATE_ROOT = "/var/lib/fks"
CACHE_ROOT = "/var/cache/fks"

#: The most ``systemd-analyze security`` may say of a unit of each profile (0 safe, 10
#: unsafe); ``fks-infra verify`` checks and lists every unit's level. ml's limit is plain's
#: plus what its two relaxations cost: 0.1 (the same unit rendered plain: ai 1.2, ml 1.3).
#: Measured 2026-12-01 with systemd 252 on a Debian 12 lab host (core-1, every role) and
#: offline (``--offline=yes``), the same numbers: plain services and their companions 1.0;
#: ml ``feature_engineering`` 1.1, ``ai`` and ``training`` 1.3 (GPU devices allowed,
#: ``MemoryDenyWriteExecute=no`` by the default ``fks_write_execute_services``).
MAX_EXPOSURE: dict[Sandbox, float] = {
    Sandbox.PLAIN: 1.5,
    Sandbox.ML: 1.6,
}

#: Keywords ``IPAddressAllow=`` understands besides addresses and networks.
_IP_KEYWORDS = ("any", "localhost", "link-local", "multicast")
_UNIT = re.compile(r"[A-Za-z0-9@:._-]+\.(service|target|socket)")
_RELEASE_ID = re.compile(r"[A-Za-z0-9._-]+")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MEMORY = re.compile(r"[1-9][0-9]*[KMGT]?|([1-9][0-9]?|100)%|infinity")
# Words systemd takes literally in ExecStart= and Environment= (once % is doubled).
_PLAIN = re.compile(r"[A-Za-z0-9_@%$+=:,./-]+")

#: The settings' defaults, where UnitOptions takes its defaults for the same things.
_DEFAULTS = HostSettings()


@dataclass(frozen=True)
class UnitOptions:
    """How a service's unit runs on one host; the defaults suit a single-host lab.

    The defaults of memory_max and tasks_max are the settings' own (``fks_memory_max``,
    ``fks_tasks_max``), read from the model. The user is no option: it is the service's own
    (``Service.user``).

    + bind_address: address the service listens on (``SERVICE_HOST``), localhost or the
      host's tailnet/LAN address
    + ip_allow: peers the service may talk to besides localhost (``IPAddressAllow=``): the
      inventory's hosts, the tailnet range, ``any`` for a service that needs the internet
    + gpu_indices: GPUs a GPU service may use, in nvidia-smi order (``CUDA_VISIBLE_DEVICES``);
      empty for all; only for services that need a GPU
    + memory_deny_write_execute: False for services whose runtime JIT-compiles code
    + memory_max: ``MemoryMax=`` (bytes with K/M/G/T, a percentage, or ``infinity``)
    + tasks_max: ``TasksMax=``, processes plus threads
    + restart_sec: seconds between a crash and the restart
    + start_limit_burst: starts allowed within ``start_limit_interval_sec`` before the unit
      gives up and stays ``failed``
    + start_limit_interval_sec: the window of ``start_limit_burst``, in seconds
    + timeout_stop_sec: seconds a stop may take before SIGKILL
    + environment: extra variables that are not secret, as (name, value) pairs
    + after: units of the same host to start after (the datastores the service reads)
    """

    bind_address: str = "127.0.0.1"
    ip_allow: tuple[str, ...] = ()
    gpu_indices: tuple[int, ...] = ()
    memory_deny_write_execute: bool = True
    memory_max: str = _DEFAULTS.fks_memory_max
    tasks_max: int = _DEFAULTS.fks_tasks_max
    restart_sec: int = 2
    start_limit_burst: int = 5
    start_limit_interval_sec: int = 60
    timeout_stop_sec: int = 30
    environment: tuple[tuple[str, str], ...] = ()
    after: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = [Problem(message) for message in _option_problems(self)]
        if problems:
            raise ProblemsError(problems)


@dataclass(frozen=True)
class UnitContext:
    """Every value the unit template reads, validated and quoted for systemd."""

    unit: str
    service_name: str
    #: the release ``ExecStart=`` runs (``FKS_RELEASE_ID``, named by the service's /health)
    release_id: str
    #: the profile's name (``catalogue.Sandbox``): ``plain`` or ``ml``
    sandbox: str
    #: ``HOME``: the state directory, ``/var/lib/fks/<name>``
    home: str
    #: ``XDG_CACHE_HOME``: the cache directory, ``/var/cache/fks/<name>``
    cache_home: str
    description: str
    needs_gpu: bool
    install_dir: str
    env_file: str
    port: int
    bind_address: str
    exec_start: str
    #: the service's own system user and group (``Service.user``), also its companions'
    user: str
    cuda_visible_devices: str
    environment: tuple[str, ...]
    ip_allow: tuple[str, ...]
    memory_deny_write_execute: bool
    memory_max: str
    tasks_max: int
    restart_sec: int
    start_limit_burst: int
    start_limit_interval_sec: int
    timeout_stop_sec: int
    after: tuple[str, ...]
    #: for a companion unit: the service unit it belongs to (``PartOf=``); empty otherwise
    part_of: str = ""

    def template_vars(self) -> dict[str, object]:
        """The context as the template's variables."""
        return asdict(self)


def unit_context(
    service: Service,
    exec_start: Sequence[str],
    options: UnitOptions | None = None,
    companion: str | None = None,
    *,
    release_id: str,
) -> UnitContext:
    """Build and check the render context of one service's unit.

    Raises ``ProblemsError`` listing everything wrong: a relative program, a ``--port`` or
    ``--host`` in the command line that disagrees with the plan, a secret passed as a plain
    variable, GPU indices for a service without a GPU, a release id that is not one word.

    + service: the service as placed on the host (its port after the host's overrides)
    + exec_start: the absolute argv the release builder decided, e.g.
      ``("/opt/fks/api/current/venv/bin/uvicorn", "fks_api.main:app", "--port", "8001")``
    + options: the host's options for this service
    + companion: render the unit of this companion of the service (``worker``) instead:
      same release, env file, user and hardening; stopped and restarted with the service
    + release_id: the release ``current`` points to once this unit is live
      (``Release.release_id``), given to the service as ``FKS_RELEASE_ID``

    ``unit_context(CATALOGUE["auth"], ["/opt/fks/auth/current/bin/fks_auth"], release_id="3f2a")``
    """
    options = options or UnitOptions()
    argv = tuple(exec_start)
    problems = _exec_problems(service, argv, options)
    if not _RELEASE_ID.fullmatch(release_id):
        problems.append(
            f"release id {release_id!r} of {service.name} is not a word of letters, digits, "
            "'.', '_' or '-'"
        )
    if options.gpu_indices and not service.needs_gpu:
        problems.append(f"gpu_indices given for {service.name}, which needs no GPU")
    for name, _ in options.environment:
        if name in service.secrets:
            problems.append(
                f"{name} is a secret of {service.name}: it belongs in {service.env_file}, "
                "never in the unit"
            )
    if companion is not None and companion not in service.companions:
        problems.append(f"{service.name} has no companion {companion!r}")
    if problems:
        raise ProblemsError([Problem(message) for message in problems])
    title = service.name if companion is None else f"{service.name} {companion}"
    return UnitContext(
        unit=service.unit if companion is None else service.companion_unit(companion),
        part_of="" if companion is None else service.unit,
        service_name=service.name,
        release_id=release_id,
        sandbox=service.sandbox.value,
        home=f"{STATE_ROOT}/{service.name}",
        cache_home=f"{CACHE_ROOT}/{service.name}",
        description=_no_specifiers(f"FKS {title}: {service.description}"),
        needs_gpu=service.needs_gpu,
        install_dir=service.install_dir,
        env_file=service.env_file,
        port=service.port,
        bind_address=options.bind_address,
        exec_start=" ".join(_quote(word.replace("$", "$$")) for word in argv),
        user=service.user,
        cuda_visible_devices=",".join(str(index) for index in options.gpu_indices),
        environment=tuple(_quote(f"{name}={value}") for name, value in options.environment),
        ip_allow=options.ip_allow,
        memory_deny_write_execute=options.memory_deny_write_execute,
        memory_max=options.memory_max,
        tasks_max=options.tasks_max,
        restart_sec=options.restart_sec,
        start_limit_burst=options.start_limit_burst,
        start_limit_interval_sec=options.start_limit_interval_sec,
        timeout_stop_sec=options.timeout_stop_sec,
        after=options.after,
    )


def render_unit(
    service: Service,
    exec_start: Sequence[str],
    options: UnitOptions | None = None,
    companion: str | None = None,
    *,
    release_id: str,
) -> str:
    """The text of ``/etc/systemd/system/fks-<name>[-<companion>].service`` (``unit_context``)."""
    context = unit_context(service, exec_start, options, companion, release_id=release_id)
    return render(UNIT_TEMPLATE, context.template_vars())


def unit_path(service: Service) -> str:
    """Where the unit of a service lives on a host."""
    return f"/etc/systemd/system/{service.unit}"


def _option_problems(options: UnitOptions) -> list[str]:
    problems: list[str] = []
    try:
        ipaddress.ip_address(options.bind_address)
    except ValueError:
        problems.append(f"bind_address {options.bind_address!r} is not an IP address")
    for entry in options.ip_allow:
        if entry in _IP_KEYWORDS:
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            problems.append(
                f"ip_allow entry {entry!r} is neither an address, a network nor one of "
                f"{', '.join(_IP_KEYWORDS)}"
            )
    if len(set(options.gpu_indices)) != len(options.gpu_indices) or any(
        index < 0 for index in options.gpu_indices
    ):
        problems.append(f"gpu_indices {options.gpu_indices} must be distinct and >= 0")
    if not _MEMORY.fullmatch(options.memory_max):
        problems.append(
            f"memory_max {options.memory_max!r} is not a size (512M, 4G), a percentage or infinity"
        )
    for key in (
        "tasks_max",
        "restart_sec",
        "start_limit_burst",
        "start_limit_interval_sec",
        "timeout_stop_sec",
    ):
        if getattr(options, key) < 1:
            problems.append(f"{key} must be at least 1 (got {getattr(options, key)})")
    if options.start_limit_burst * options.restart_sec >= options.start_limit_interval_sec:
        problems.append(
            f"a crash loop would never stop: {options.start_limit_burst} starts "
            f"{options.restart_sec} s apart do not fit in start_limit_interval_sec="
            f"{options.start_limit_interval_sec}"
        )
    for unit in options.after:
        if not _UNIT.fullmatch(unit):
            problems.append(f"after: {unit!r} is not a unit name")
    for name, value in options.environment:
        if not _VARIABLE.fullmatch(name):
            problems.append(f"environment variable name {name!r} is not valid")
        elif name in RESERVED_VARIABLES:
            problems.append(f"environment variable {name} is set by the unit itself")
        if "\n" in value or "\x00" in value:
            problems.append(f"environment variable {name} has a line break or NUL in its value")
    return problems


def _exec_problems(service: Service, argv: tuple[str, ...], options: UnitOptions) -> list[str]:
    if not argv or not argv[0].startswith("/"):
        return [f"exec_start of {service.name} must start with an absolute path (got {argv})"]
    problems = [
        f"exec_start of {service.name} has a line break or NUL in {word!r}"
        for word in argv
        if "\n" in word or "\x00" in word
    ]
    expected = {"--port": str(service.port), "--host": options.bind_address}
    pairs = [tuple(word.split("=", 1)) for word in argv if word.startswith("--") and "=" in word]
    for flag, value in [*itertools.pairwise(argv), *pairs]:
        if flag in expected and value != expected[flag]:
            problems.append(
                f"exec_start of {service.name} says {flag} {value} but the plan says "
                f"{expected[flag]}"
            )
    return problems


def _no_specifiers(text: str) -> str:
    """Text where systemd expands %-specifiers, taken literally."""
    return text.replace("%", "%%")


def _quote(word: str) -> str:
    """One word of ExecStart= or one Environment= assignment, taken literally by systemd.

    ExecStart= also expands ``$VAR``: its words come here with ``$`` already doubled.
    """
    word = _no_specifiers(word)
    if _PLAIN.fullmatch(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
