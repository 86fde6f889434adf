"""The FKS service catalogue: the one typed, validated list of the stack's services.

The data below transcribes ``seed-port-layout.md`` (the source of truth for names, ports,
languages, categories and port ranges). Everything else fks-infra knows about a service --
unit name, env file, nginx upstream, repository name, test ids -- is derived from a
``Service`` here and never typed a second time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from fks_infra.errors import Problem, ProblemsError
from fks_infra.paths import ENV_DIR, INSTALL_ROOT
from fks_infra.ports import RESERVED_PORTS


class Language(StrEnum):
    PYTHON = "python"
    RUST = "rust"


class Role(StrEnum):
    """Host roles. A role is an inventory group of the same name."""

    CORE = "core"
    GPU = "gpu"
    BRIDGE = "bridge"
    #: PostgreSQL and Redis; no service of its own. Without such a host, the one core host.
    DATASTORE = "datastore"


class Sandbox(StrEnum):
    """How much of systemd's sandbox a service's runtime can live with (its unit's profile).

    The profile's relaxations are rendered, each with its reason, by
    ``templates/etc/systemd/system/fks-service.service.j2`` from ``services/units.py``.
    """

    #: Web and trading services: the whole sandbox (``systemd-analyze security`` <= 1.5).
    PLAIN = "plain"
    #: Services that load ML runtimes (PyTorch, numba, NCCL, Hugging Face): they pin threads
    #: to CPUs (``sched_setaffinity``) and list network interfaces (``AF_NETLINK``).
    ML = "ml"


class Category(StrEnum):
    """Service categories, from the seed's sections refined by its port ranges."""

    CPU_CORE = "cpu_core"
    ASSET = "asset"
    DATA_PROCESSING = "data_processing"
    GPU = "gpu"
    EXECUTION_PLUGIN = "execution_plugin"
    INFRASTRUCTURE = "infrastructure"
    ORCHESTRATOR = "orchestrator"

    @property
    def role(self) -> Role:
        """The role whose hosts run services of this category by default."""
        return _CATEGORY_ROLE[self]

    @property
    def port_range(self) -> range:
        """The seed's port range for this category (inclusive bounds as a ``range``)."""
        return _CATEGORY_PORTS[self]


_CORE_RANGE = range(8000, 8014)  # 8000-8013: core services and infrastructure
_CATEGORY_PORTS: Mapping[Category, range] = {
    Category.CPU_CORE: _CORE_RANGE,
    Category.GPU: _CORE_RANGE,
    Category.EXECUTION_PLUGIN: _CORE_RANGE,
    Category.INFRASTRUCTURE: _CORE_RANGE,
    Category.ORCHESTRATOR: _CORE_RANGE,
    Category.ASSET: range(8014, 8017),  # 8014-8016: asset-specific trading services
    Category.DATA_PROCESSING: range(8020, 8022),  # 8020-8021: data processing services
}
_CATEGORY_ROLE: Mapping[Category, Role] = {
    Category.CPU_CORE: Role.CORE,
    Category.ASSET: Role.CORE,
    Category.DATA_PROCESSING: Role.CORE,
    Category.INFRASTRUCTURE: Role.CORE,
    Category.ORCHESTRATOR: Role.CORE,
    Category.GPU: Role.GPU,
    Category.EXECUTION_PLUGIN: Role.BRIDGE,
}


_TASK = re.compile(r"[a-z][a-z0-9]*")


def describe_range(ports: range) -> str:
    return f"{ports.start}-{ports.stop - 1}"


class Service(BaseModel):
    """One FKS service as the catalogue knows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: At most 27 characters: its system user ``fks-<name>`` must fit the 31 characters
    #: systemd takes in ``User=`` (useradd takes 32).
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=27)
    port: int = Field(ge=1, le=65535)
    language: Language
    category: Category
    description: str
    health_path: str = "/health"
    needs_gpu: bool = False
    #: True where two running copies would do harm (double orders, double ingestion).
    unique: bool = False
    #: Names of the secrets the service reads from its env file.
    secrets: tuple[str, ...] = ()
    #: Variables of its env file that come from host settings, as (VARIABLE, fks_setting)
    #: pairs: not secret, but required on every host that runs the service.
    environment: tuple[tuple[str, str], ...] = ()
    #: Reads PostgreSQL (``DATABASE_URL``, ``POSTGRES_*`` in its env file).
    needs_postgres: bool = False
    #: Reads Redis (``REDIS_URL`` db 1 cache, ``CELERY_BROKER_URL`` db 0).
    needs_redis: bool = False
    #: Companion processes, each its own unit ``fks-<name>-<companion>.service`` running the
    #: release's task of that name (Celery ``worker``, ``beat``), restarted with the service.
    companions: tuple[str, ...] = ()
    #: Release tasks run once per new release before it starts (Django ``migrate``,
    #: ``collectstatic``); one failing fails the rollout and keeps the previous release.
    pre_start: tuple[str, ...] = ()
    #: Talks to the outside: brokers and exchanges, market-data and news feeds, an LLM API.
    #: Its unit may reach what the host's egress settings allow; every other service reaches
    #: only localhost and its inventory peers.
    egress: bool = False
    #: The sandbox profile of its unit (``Sandbox``).
    sandbox: Sandbox = Sandbox.PLAIN

    @property
    def role(self) -> Role:
        return self.category.role

    @property
    def unit(self) -> str:
        return f"fks-{self.name}.service"

    @property
    def user(self) -> str:
        """System user and group of the service, its companions and its pre-start tasks.

        The unit's name without ``.service`` (``fks-data_ingestion``): one identity per
        service, so no other service can signal its processes or read its state directory.
        Created by ``host/deploy.py``, placed in ``User=``/``Group=`` by ``services/units.py``.
        """
        return f"fks-{self.name}"

    @property
    def env_file(self) -> str:
        return f"{ENV_DIR}/{self.name}.env"

    @property
    def upstream(self) -> str:
        return f"fks_{self.name}"

    @property
    def repo_name(self) -> str:
        return f"fks_{self.name}"

    @property
    def install_dir(self) -> str:
        return f"{INSTALL_ROOT}/{self.name}"

    def companion_unit(self, companion: str) -> str:
        return f"fks-{self.name}-{companion}.service"

    @property
    def companion_units(self) -> tuple[str, ...]:
        return tuple(self.companion_unit(c) for c in self.companions)

    @property
    def units(self) -> tuple[str, ...]:
        """The service's unit and its companions' units."""
        return (self.unit, *self.companion_units)


class Catalogue:
    """An ordered, validated, immutable collection of services.

    Construction validates; an invalid catalogue cannot exist. ``with_ports`` gives the
    catalogue a host sees after its port overrides, validated the same way.
    """

    __slots__ = ("_by_name", "_services")

    def __init__(self, services: tuple[Service, ...]) -> None:
        problems = validate_services(services)
        if problems:
            raise ProblemsError(problems)
        self._services = services
        self._by_name = {service.name: service for service in services}

    def __iter__(self) -> Iterator[Service]:
        return iter(self._services)

    def __len__(self) -> int:
        return len(self._services)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Service:
        return self._by_name[name]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def for_role(self, role: Role) -> tuple[Service, ...]:
        return tuple(service for service in self._services if service.role is role)

    def with_ports(self, overrides: Mapping[str, int], source: str = "") -> Catalogue:
        """Return the catalogue with some services moved to other ports (validated)."""
        if not overrides:
            return self
        unknown = sorted(set(overrides) - set(self._by_name))
        if unknown:
            raise ProblemsError(
                [
                    Problem(f"unknown service {name!r} (known: {', '.join(self.names)})", source)
                    for name in unknown
                ]
            )
        moved = tuple(
            service.model_copy(update={"port": overrides[service.name]})
            if service.name in overrides
            else service
            for service in self._services
        )
        try:
            return Catalogue(moved)
        except ProblemsError as error:
            raise ProblemsError([p.located(source) for p in error.problems]) from None


def validate_services(services: tuple[Service, ...]) -> list[Problem]:
    """Every problem of a list of services, each naming both sides of a clash."""
    problems: list[Problem] = []
    seen_names: dict[str, Service] = {}
    seen_ports: dict[int, Service] = {}
    for service in services:
        if service.name in seen_names:
            problems.append(Problem(f"duplicate service name {service.name!r}"))
        seen_names.setdefault(service.name, service)
        if service.port in seen_ports:
            other = seen_ports[service.port]
            problems.append(
                Problem(f"port {service.port} is used by both {other.name} and {service.name}")
            )
        seen_ports.setdefault(service.port, service)
        ports = service.category.port_range
        if service.port not in ports:
            problems.append(
                Problem(
                    f"{service.name} is on port {service.port}, outside the "
                    f"{service.category} range {describe_range(ports)}"
                )
            )
        for task in (*service.companions, *service.pre_start):
            if not _TASK.fullmatch(task):
                problems.append(
                    Problem(f"{service.name}: task name {task!r} is not [a-z][a-z0-9]*")
                )
        if service.companions and not service.needs_redis:
            problems.append(
                Problem(f"{service.name} has companions {service.companions} but no needs_redis")
            )
        if service.port in RESERVED_PORTS:
            problems.append(
                Problem(
                    f"{service.name} is on port {service.port}, which is reserved for "
                    f"{RESERVED_PORTS[service.port]}"
                )
            )
    return problems


def _service(
    name: str, port: int, language: Language, category: Category, description: str, **extra: object
) -> Service:
    return Service.model_validate(
        {
            "name": name,
            "port": port,
            "language": language,
            "category": category,
            "description": description,
            **extra,
        }
    )


PY, RS = Language.PYTHON, Language.RUST
C = Category

#: The FKS stack, in the seed's port order.
CATALOGUE = Catalogue(
    (
        _service(
            "web",
            8000,
            PY,
            C.CPU_CORE,
            "Django web UI",
            secrets=("DJANGO_SECRET_KEY",),
            needs_postgres=True,
            needs_redis=True,
            companions=("worker", "beat"),
            pre_start=("migrate", "collectstatic"),
        ),
        _service(
            "api",
            8001,
            PY,
            C.CPU_CORE,
            "API Gateway (FastAPI)",
            secrets=("AUTH_SECRET",),
            needs_redis=True,
        ),
        _service("app", 8002, PY, C.CPU_CORE, "Trading logic & signals"),
        _service(
            "data",
            8003,
            PY,
            C.CPU_CORE,
            "Central data service (single source of truth)",
            unique=True,
            needs_postgres=True,
            needs_redis=True,
            companions=("worker", "beat"),
        ),
        _service(
            "execution",
            8004,
            RS,
            C.CPU_CORE,
            "Order execution engine",
            unique=True,
            secrets=("EXCHANGE_API_KEY", "EXCHANGE_API_SECRET"),
            egress=True,
        ),
        _service(
            "meta",
            8005,
            RS,
            C.EXECUTION_PLUGIN,
            "MetaTrader 5 bridge",
            unique=True,
            secrets=("MT5_LOGIN", "MT5_PASSWORD", "MT5_SERVER"),
            # Its code default points at ninja's 8006: always set explicitly.
            environment=(("MT5_BRIDGE_URL", "fks_mt5_bridge_url"),),
        ),
        _service(
            "ninja",
            8006,
            PY,
            C.EXECUTION_PLUGIN,
            "NinjaTrader 8 bridge",
            unique=True,
            environment=(
                ("NINJATRADER_HOST", "fks_ninjatrader_host"),
                ("NINJATRADER_PORT", "fks_ninjatrader_port"),
            ),
        ),
        _service(
            "ai",
            8007,
            PY,
            C.GPU,
            "AI/ML inference (GPU)",
            needs_gpu=True,
            needs_redis=True,
            egress=True,
            sandbox=Sandbox.ML,
        ),
        _service(
            "analyze",
            8008,
            PY,
            C.INFRASTRUCTURE,
            "Codebase analysis & auto-improvement",
            secrets=("LLM_API_KEY",),
            egress=True,
        ),
        _service(
            "auth",
            8009,
            RS,
            C.INFRASTRUCTURE,
            "Rust-based auth (JWT/RBAC)",
            secrets=("AUTH_SECRET",),
        ),
        _service("main", 8010, RS, C.ORCHESTRATOR, "fks_main – Rust orchestrator", unique=True),
        _service(
            "training",
            8011,
            PY,
            C.GPU,
            "GPU batch training",
            needs_gpu=True,
            needs_postgres=True,
            sandbox=Sandbox.ML,
        ),
        _service(
            "portfolio",
            8012,
            PY,
            C.CPU_CORE,
            "BTC-centric portfolio optimization",
            needs_postgres=True,
        ),
        _service(
            "monitor",
            8013,
            PY,
            C.INFRASTRUCTURE,
            "Prometheus + Grafana metrics aggregation",
            unique=True,
        ),
        _service("crypto", 8014, PY, C.ASSET, "Crypto signal generation and analysis", egress=True),
        _service(
            "futures",
            8015,
            PY,
            C.ASSET,
            "Futures trading service (CME Group futures contracts)",
            egress=True,
        ),
        _service(
            "stocks",
            8016,
            PY,
            C.ASSET,
            "Stocks trading service (equity market analysis)",
            egress=True,
        ),
        _service(
            "data_ingestion",
            8020,
            PY,
            C.DATA_PROCESSING,
            "Data ingestion service (stock, futures, news)",
            unique=True,
            needs_postgres=True,
            needs_redis=True,
            egress=True,
        ),
        _service(
            "feature_engineering",
            8021,
            PY,
            C.DATA_PROCESSING,
            "Feature engineering service (112+ features)",
            sandbox=Sandbox.ML,
        ),
    )
)
