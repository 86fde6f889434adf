"""The catalogue against the seed port table, and its validation rules."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError
from seed_table import seed_text

from fks_infra.catalogue import CATALOGUE, Catalogue, Category, Role, Service
from fks_infra.errors import ProblemsError
from fks_infra.ports import RESERVED_PORTS


def seed_rows() -> list[tuple[int, str, str, str]]:
    rows = re.findall(r"^\| (\d+) \| (\w+) \| (\w+) \| (.+?) \|$", seed_text(), re.MULTILINE)
    return [(int(port), name, kind, description) for port, name, kind, description in rows]


def seed_section(title: str) -> set[str]:
    match = re.search(rf"### {re.escape(title)}\n((?:- .+\n)+)", seed_text())
    assert match, title
    bullets = match.group(1).replace("- ", "").replace("\n", ",")
    return {name.strip() for name in bullets.split(",") if name.strip()}


def test_catalogue_has_the_seed_services_ports_languages_and_descriptions() -> None:
    expected = seed_rows()
    assert len(expected) == 19
    actual = [(s.port, s.name, s.language.value.capitalize(), s.description) for s in CATALOGUE]
    assert actual == expected


@pytest.mark.parametrize(
    ("section", "categories"),
    [
        ("CPU Core Services", {Category.CPU_CORE, Category.ASSET, Category.DATA_PROCESSING}),
        ("GPU Services", {Category.GPU}),
        ("Execution Plugins", {Category.EXECUTION_PLUGIN}),
        ("Orchestrator", {Category.ORCHESTRATOR}),
    ],
)
def test_categories_follow_the_seed_sections(section: str, categories: set[Category]) -> None:
    assert {s.name for s in CATALOGUE if s.category in categories} == seed_section(section)


def test_infrastructure_section_is_ours_plus_nginx_and_tailscale() -> None:
    infra = {s.name for s in CATALOGUE if s.category is Category.INFRASTRUCTURE}
    assert seed_section("Infrastructure Services") == infra | {"nginx", "tailscale"}


def test_port_ranges_follow_the_seed() -> None:
    text = seed_text()
    assert "**8000-8013**" in text and "**8014-8016**" in text and "**8020-8021**" in text
    assert Category.ASSET.port_range == range(8014, 8017)
    assert Category.DATA_PROCESSING.port_range == range(8020, 8022)
    assert Category.GPU.port_range == range(8000, 8014)


def test_roles_cover_every_service_once() -> None:
    by_role = {role: {s.name for s in CATALOGUE.for_role(role)} for role in Role}
    assert by_role[Role.GPU] == {"ai", "training"}
    assert by_role[Role.BRIDGE] == {"meta", "ninja"}
    assert by_role[Role.CORE] == {
        "web",
        "api",
        "app",
        "data",
        "execution",
        "analyze",
        "auth",
        "main",
        "portfolio",
        "monitor",
        "crypto",
        "futures",
        "stocks",
        "data_ingestion",
        "feature_engineering",
    }


def test_derived_names() -> None:
    service = CATALOGUE["data_ingestion"]
    assert service.unit == "fks-data_ingestion.service"
    assert service.env_file == "/etc/fks/data_ingestion.env"
    assert service.upstream == "fks_data_ingestion"
    assert service.repo_name == "fks_data_ingestion"
    assert service.health_path == "/health"


def test_services_are_frozen() -> None:
    with pytest.raises(ValidationError):
        CATALOGUE["api"].port = 9999  # type: ignore[misc]


def test_gpu_services_need_a_gpu_and_nothing_else_does() -> None:
    assert {s.name for s in CATALOGUE if s.needs_gpu} == {"ai", "training"}


def svc(name: str, port: int, category: Category = Category.CPU_CORE) -> Service:
    return Service(name=name, port=port, language="python", category=category, description="x")


def problems_of(*services: Service) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        Catalogue(services)
    return [str(p) for p in caught.value.problems]


def test_duplicate_port_names_both_services() -> None:
    assert problems_of(svc("api", 8001), svc("app", 8001)) == [
        "port 8001 is used by both api and app"
    ]


def test_duplicate_name() -> None:
    assert problems_of(svc("api", 8001), svc("api", 8002)) == ["duplicate service name 'api'"]


def test_port_outside_category_range() -> None:
    assert problems_of(svc("crypto", 8013, Category.ASSET)) == [
        "crypto is on port 8013, outside the asset range 8014-8016"
    ]


@pytest.mark.parametrize("port", sorted(RESERVED_PORTS))
def test_reserved_ports_are_refused_with_their_owner(port: int) -> None:
    problems = problems_of(svc("odd", port))
    assert f"reserved for {RESERVED_PORTS[port]}" in problems[-1]


def test_with_ports_validates_the_moved_catalogue() -> None:
    with pytest.raises(ProblemsError) as caught:
        CATALOGUE.with_ports({"api": 8002}, source="group_data/core.py")
    (problem,) = caught.value.problems
    assert str(problem) == "group_data/core.py: port 8002 is used by both api and app"


def test_with_ports_swaps_services_within_their_range() -> None:
    # Every port of every range is taken, so a valid override is a swap.
    moved = CATALOGUE.with_ports({"crypto": 8015, "futures": 8014})
    assert (moved["crypto"].port, moved["futures"].port) == (8015, 8014)
    assert CATALOGUE["crypto"].port == 8014


def test_with_ports_names_an_unknown_service() -> None:
    with pytest.raises(ProblemsError, match="unknown service 'apii'"):
        CATALOGUE.with_ports({"apii": 8001})
