"""The tailnet as the plan sees it: node tags, ``tailscale up`` arguments, the policy file.

Pure Python, no pyinfra: the deploy (``join_tailnet``) and ``fks-infra tailscale-policy``
read the same functions, so the tags a node advertises are exactly the tags the policy
grants access to.

Deny by default. The grants are the CALL, SCRAPE and DATASTORE needs of ``access.py``
between two different hosts that join the tailnet, turned from host to tag:

- CALL: ``tag:fks-core`` reaches the services placed on *other* hosts (gpu: ai, training;
  bridge: meta, ninja; core services on another core host);
- SCRAPE: ``tag:fks-monitor`` (the host running ``monitor``) reaches every service port and
  node exporter (9100) on every other host;
- DATASTORE: a host running services that read PostgreSQL or Redis reaches 5432 or 6379 on
  ``tag:fks-datastore``, under its first tag.

Admins are people, not inventory hosts, so they have no access rule: they reach SSH (22) and
HTTPS (443) on every fks host by a grant of this module alone.

Egress (``access.Egress``): the tag a service that talks to the outside is placed under
reaches what its host's egress settings allow, where the tailnet carries it:
``autogroup:internet`` (every port: the internet through an exit node, Tailscale's only way
for a node to send internet traffic over the tailnet) when any address is allowed; each
network of ``fks_egress_allow`` (every port: reached through a subnet router or an exit node
that routes it); the proxy's address and port. Without an exit node or subnet router these
grants carry nothing: a host's own internet traffic never crosses the tailnet. Grants are
per tag, so hosts under one tag get the union of their needs.

A service's destination tag is the tag of its own role when its host has that role, else the
host's first role tag (a service moved with ``fks_services_extra``); a node exporter's is its
host's first tag.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import json5

from fks_infra.access import (
    NODE_EXPORTER_NAME,
    Access,
    Egress,
    Need,
    Reach,
    inventory_access,
    inventory_egress,
)
from fks_infra.catalogue import Role, Service
from fks_infra.errors import Problem, ProblemsError
from fks_infra.plan import HostPlan, InventoryPlan
from fks_infra.ports import HTTPS, NODE_EXPORTER, POSTGRES, REDIS, SSH
from fks_infra.settings import TAILNET_NETWORKS
from fks_infra.tailscale.node import MONITOR_TAG, host_tags, role_tag

ADMIN_PORTS = (SSH, HTTPS)
#: The needs of ``access.py`` the tailnet grants, and the comment each grant carries.
TAILNET_NEEDS: Mapping[Need, str] = {
    Need.CALL: "core services call",
    Need.SCRAPE: "metrics scrape",
    Need.DATASTORE: "datastore clients",
}
#: The destination of internet access through an exit node (Tailscale's autogroup).
INTERNET = "autogroup:internet"
#: Tailscale's address ranges: a destination overlapping them is a tailnet node.
TAILNET_RANGES = tuple(ipaddress.ip_network(n) for n in TAILNET_NETWORKS)
#: Grant comments name the node exporter as the policy always has.
_LABELS: Mapping[str, str] = {NODE_EXPORTER_NAME: "node_exporter"}


@dataclass(frozen=True)
class Endpoint:
    """One placed service as the tailnet sees it: a port behind a tag, on one host."""

    host: str
    tag: str
    port: int
    what: str


@dataclass
class Grant:
    """One grant: ``src`` reaches TCP ``ports`` on ``dst`` (each port with who needs it), or
    every port and protocol (``all_ports``, for destinations outside the tailnet only)."""

    src: str
    dst: str
    ports: dict[int, list[str]] = field(default_factory=dict)
    why: str = ""
    all_ports: bool = False
    #: who needs every port, (service, host) pairs, for the comment of an ``all_ports`` grant
    users: list[tuple[str, str]] = field(default_factory=list)

    def add(self, port: int, what: str) -> None:
        users = self.ports.setdefault(port, [])
        if what not in users:
            users.append(what)

    def add_user(self, service: str, host: str) -> None:
        if (service, host) not in self.users:
            self.users.append((service, host))

    def as_json(self) -> dict[str, Any]:
        ip = ["*"] if self.all_ports else [f"tcp:{port}" for port in sorted(self.ports)]
        return {"src": [self.src], "dst": [self.dst], "ip": ip}

    def comment(self) -> str:
        if self.all_ports:
            hosts = dict.fromkeys(host for _, host in self.users)
            users = "; ".join(
                f"{', '.join(s for s, h in self.users if h == host)} on {host}" for host in hosts
            )
            return f"{self.why}: every port, {users}"
        ports = ", ".join(f"{port} {'+'.join(self.ports[port])}" for port in sorted(self.ports))
        return f"{self.why}: {ports}"


@dataclass(frozen=True)
class Policy:
    """A tailnet policy, with the one-line reason of each grant for the rendered file."""

    tag_owners: dict[str, list[str]]
    grants: tuple[Grant, ...]
    tests: tuple[dict[str, Any], ...]
    hosts: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "tagOwners": self.tag_owners,
            "grants": [grant.as_json() for grant in self.grants],
            "tests": list(self.tests),
        }


def build_policy(inventory: InventoryPlan) -> Policy:
    """The tailnet policy of the hosts of ``inventory`` that join the tailnet.

    Raises ``ProblemsError`` when no host joins, or hosts disagree on a tailnet-wide setting.
    """
    hosts = tuple(h for h in inventory.hosts if h.settings.fks_tailscale_enabled)
    if not hosts:
        raise ProblemsError([Problem("no host joins the tailnet (fks_tailscale_enabled)")])
    owners = _tailnet_wide(hosts, "fks_tailscale_tag_owners")
    admins = _tailnet_wide(hosts, "fks_tailscale_admins")

    tags_of = {h.name: host_tags(h) for h in hosts}
    used_tags = sorted({tag for tags in tags_of.values() for tag in tags}, key=_tag_order)
    endpoints = [_endpoint(h, s) for h in hosts for s in h.services]

    ordered = [*_host_grants(inventory, tags_of, endpoints), *_egress_grants(inventory, tags_of)]
    # Every host has a role tag; the monitor tag adds no host, so it needs no admin grant.
    admin_grants = [
        Grant(src=admin, dst=tag, why="admins")
        for admin in admins
        for tag in used_tags
        if tag != MONITOR_TAG
    ]
    for grant in admin_grants:
        grant.add(SSH, "ssh")
        grant.add(HTTPS, "https")

    all_grants = (*ordered, *admin_grants)
    return Policy(
        tag_owners={tag: list(owners) for tag in used_tags},
        grants=all_grants,
        tests=tuple(_tests(used_tags, all_grants, endpoints, tags_of)),
        hosts=tuple(h.name for h in hosts),
    )


def _endpoint(plan: HostPlan, service: Service) -> Endpoint:
    role = service.role if service.role in plan.roles else plan.roles[0]
    return Endpoint(plan.name, role_tag(role), service.port, service.name)


def _host_grants(
    inventory: InventoryPlan,
    tags_of: Mapping[str, tuple[str, ...]],
    endpoints: Iterable[Endpoint],
) -> list[Grant]:
    """Tag-to-tag grants of the access rules between two different hosts of the tailnet.

    A grant's comment names the need of its first rule; grants are ordered by tag.
    """
    service_tag = {(endpoint.host, endpoint.what): endpoint.tag for endpoint in endpoints}
    grants: dict[tuple[str, str], Grant] = {}
    for rule in inventory_access(inventory):
        why = TAILNET_NEEDS.get(rule.need)
        # A host talks to itself without the tailnet.
        if why is None or rule.source == rule.destination:
            continue
        if rule.source not in tags_of or rule.destination not in tags_of:
            continue
        if rule.need is Need.DATASTORE:
            dst = role_tag(Role.DATASTORE)
        else:
            dst = service_tag.get((rule.destination, rule.what), tags_of[rule.destination][0])
        src = _source_tag(rule, tags_of)
        grant = grants.setdefault((src, dst), Grant(src, dst, why=why))
        grant.add(rule.port, _LABELS.get(rule.what, rule.what))
    return sorted(grants.values(), key=lambda g: (_tag_order(g.src), _tag_order(g.dst)))


def _egress_grants(inventory: InventoryPlan, tags_of: Mapping[str, tuple[str, ...]]) -> list[Grant]:
    """The outbound needs of the tailnet's hosts, as grants from the tag each egress service
    is placed under (``_endpoint``), in tag order, destinations in the order first needed."""
    grants: dict[tuple[str, str], Grant] = {}

    def grant(src: str, dst: str, why: str, all_ports: bool) -> Grant:
        return grants.setdefault((src, dst), Grant(src, dst, why=why, all_ports=all_ports))

    for need in inventory_egress(inventory):
        if need.host not in tags_of:
            continue
        plan = inventory.host(need.host)
        src = _endpoint(plan, next(s for s in plan.services if s.name == need.service)).tag
        who = (need.service, need.host)
        if need.reach is Reach.ANY:
            grant(src, INTERNET, "egress to the internet (exit node)", True).add_user(*who)
        for network in need.networks:
            grant(src, network, "egress network (fks_egress_allow)", True).add_user(*who)
        proxy = _proxy_destination(need)
        if proxy is not None:
            address, port = proxy
            grant(src, address, "egress proxy (fks_egress_proxy)", False).add(port, need.service)
    return sorted(grants.values(), key=lambda g: _tag_order(g.src))


def _proxy_destination(need: Egress) -> tuple[str, int] | None:
    """The proxy's address and port when its URL names an address (a proxy named by DNS name
    is inside the need's networks, granted with them)."""
    if need.proxy_address is None or need.proxy_port is None:
        return None
    return need.proxy_address, need.proxy_port


def _outside_tailnet(destination: str) -> bool:
    """Whether a grant's destination is outside the tailnet: ``autogroup:internet``, or an
    address or network that overlaps none of Tailscale's ranges."""
    if destination == INTERNET:
        return True
    try:
        network = ipaddress.ip_network(destination, strict=False)
    except ValueError:
        return False
    return not any(
        network.version == tailnet.version and network.overlaps(tailnet)
        for tailnet in TAILNET_RANGES
    )


def _source_tag(rule: Access, tags_of: Mapping[str, tuple[str, ...]]) -> str:
    """The tag a source host has a need under: core services call, the monitor scrapes,
    anything else goes under the host's first tag."""
    if rule.need is Need.CALL:
        return role_tag(Role.CORE)
    if rule.need is Need.SCRAPE:
        return MONITOR_TAG
    return tags_of[rule.source][0]


def _tag_order(tag: str) -> tuple[int, str]:
    order = [role_tag(role) for role in Role] + [MONITOR_TAG]
    return (order.index(tag), tag) if tag in order else (len(order), tag)


def _tailnet_wide(hosts: Sequence[HostPlan], key: str) -> tuple[str, ...]:
    values = {h.name: tuple(getattr(h.settings, key)) for h in hosts}
    first = hosts[0].name
    differ = [name for name, value in values.items() if value != values[first]]
    if differ:
        raise ProblemsError(
            [
                Problem(
                    f"{key} is tailnet-wide but host {first} has {list(values[first])} and "
                    f"host {name} has {list(values[name])}",
                    key=key,
                )
                for name in differ
            ]
        )
    return values[first]


def _tests(
    tags: Sequence[str],
    grants: Sequence[Grant],
    endpoints: Iterable[Endpoint],
    tags_of: Mapping[str, tuple[str, ...]],
) -> list[dict[str, Any]]:
    """For each tag: every port it must reach, and the fks ports it must not.

    A denied pair is asserted only when no tag sharing a host with the source reaches any
    tag sharing a host with the destination: then it holds whether Tailscale evaluates a
    test for the tag alone or for the devices that carry it (core-1 is also the monitor).
    """
    ports_behind: dict[str, set[int]] = {tag: {*ADMIN_PORTS, NODE_EXPORTER} for tag in tags}
    if role_tag(Role.DATASTORE) in ports_behind:
        ports_behind[role_tag(Role.DATASTORE)] |= {POSTGRES, REDIS}
    for endpoint in endpoints:
        ports_behind[endpoint.tag].add(endpoint.port)
    allowed = {(g.src, g.dst, port) for g in grants for port in g.ports}

    def sharing_a_host(tag: str) -> set[str]:
        return {other for carried in tags_of.values() if tag in carried for other in carried}

    tests = []
    for src in tags:
        accept = [f"{g.dst}:{port}" for g in grants if g.src == src for port in sorted(g.ports)]
        deny = [
            f"{dst}:{port}"
            for dst in tags
            for port in sorted(ports_behind[dst])
            if not any(
                (s, d, port) in allowed for s in sharing_a_host(src) for d in sharing_a_host(dst)
            )
        ]
        entry: dict[str, Any] = {"src": src}
        if accept:
            entry["accept"] = accept
        if deny:
            entry["deny"] = deny
        tests.append(entry)
    return tests


_TAG = re.compile(r"^tag:[a-z0-9-]+$")


def validate_policy(policy: Mapping[str, Any]) -> list[Problem]:
    """Every reason a policy must not be applied: wildcards, tags nobody owns, failing tests.

    Works on the parsed JSON, so it checks any policy (the tests feed it hand-written ones).
    """
    problems: list[Problem] = []
    owners = policy.get("tagOwners") or {}
    used: dict[str, str] = {}

    def use(value: str, where: str) -> None:
        tag = _tag_of(value)
        if tag:
            used.setdefault(tag, where)

    for tag, tag_owners in owners.items():
        if not _TAG.match(tag):
            problems.append(Problem(f"tagOwners: {tag!r} is not a valid tag name"))
        for owner in tag_owners:
            use(owner, f"tagOwners[{tag!r}]")
    for kind in ("grants", "acls"):
        for index, rule in enumerate(policy.get(kind) or []):
            where = f"{kind}[{index}]"
            for src in rule.get("src", []):
                if src == "*":
                    problems.append(Problem(f"{where}.src: wildcard source '*'"))
                use(src, f"{where}.src")
            for dst in rule.get("dst", []):
                if dst == "*" or dst.startswith("*:") or dst.endswith(":*"):
                    problems.append(Problem(f"{where}.dst: wildcard destination {dst!r}"))
                use(dst, f"{where}.dst")
            # Every port is what egress to the outside means; inside the tailnet, never.
            outside = all(_outside_tailnet(dst) for dst in rule.get("dst", []))
            for ip in rule.get("ip", []):
                if "*" in ip and not (ip == "*" and outside):
                    problems.append(Problem(f"{where}.ip: wildcard port {ip!r}"))
    for index, test in enumerate(policy.get("tests") or []):
        use(test.get("src", ""), f"tests[{index}].src")
        for verdict in ("accept", "deny"):
            for dst in test.get(verdict, []):
                use(dst, f"tests[{index}].{verdict}")
    for tag, where in used.items():
        if tag not in owners:
            problems.append(Problem(f"{tag} is used in {where} but has no tagOwners entry"))
    if not problems:
        problems += _failing_tests(policy)
    return problems


def _tag_of(value: str) -> str | None:
    """``tag:fks-gpu`` of ``tag:fks-gpu`` or ``tag:fks-gpu:8007``; None for other principals."""
    if not value.startswith("tag:"):
        return None
    return ":".join(value.split(":")[:2])


def _failing_tests(policy: Mapping[str, Any]) -> list[Problem]:
    """The policy's own tests, evaluated against its grants (tags only, tcp ports only)."""
    allowed: set[tuple[str, str, str]] = set()
    for rule in policy.get("grants") or []:
        for src in rule.get("src", []):
            for dst in rule.get("dst", []):
                for ip in rule.get("ip", []):
                    allowed.add((src, dst, ip.removeprefix("tcp:")))
    problems = []
    for index, test in enumerate(policy.get("tests") or []):
        src = test.get("src", "")
        for verdict in ("accept", "deny"):
            for target in test.get(verdict, []):
                dst, _, port = target.rpartition(":")
                if ((src, dst, port) in allowed) != (verdict == "accept"):
                    problems.append(
                        Problem(
                            f"tests[{index}]: {src} -> {target} should be "
                            f"{'accepted' if verdict == 'accept' else 'denied'} but the "
                            f"grants {'deny' if verdict == 'accept' else 'accept'} it"
                        )
                    )
    return problems


def render_policy(policy: Policy, inventory_path: str = "") -> str:
    """The policy as HuJSON: a comment above each grant naming the services it opens.

    Validates first and checks that the text parses back to what was validated; raises
    ``ProblemsError`` instead of returning a policy that must not be applied.
    """
    data = policy.as_json()
    problems = validate_policy(data)
    if problems:
        raise ProblemsError(problems)
    source = f" from {inventory_path}" if inventory_path else ""
    lines = [
        f"// Tailnet policy of the FKS stack: generated by fks-infra tailscale-policy{source}.",
        "// Do not edit: change the inventory or the catalogue and generate it again.",
        f"// Hosts: {', '.join(policy.hosts)}.",
        "{",
        "  // Who may apply each tag (tailscale up --advertise-tags fails for a tag without one).",
        f'  "tagOwners": {_dump(data["tagOwners"], 1)},',
        "",
        "  // Deny by default: each grant opens the listed TCP ports and nothing else; only",
        "  // egress grants to destinations outside the tailnet open every port there.",
        '  "grants": [',
    ]
    for grant in policy.grants:
        lines.append(f"    // {grant.comment()}")
        lines.append(f"    {_dump(grant.as_json(), 2)},")
    lines += [
        "  ],",
        "",
        "  // Checked by Tailscale on every change: what must stay reachable, and what must not.",
        '  "tests": [',
    ]
    lines += [f"    {_dump(test, 2)}," for test in policy.tests]
    lines += ["  ],", "}", ""]
    text = "\n".join(lines)
    if parse_hujson(text) != data:
        raise AssertionError("rendered policy does not parse back to the validated one")
    return text


def _dump(value: Any, level: int) -> str:
    """JSON with two-space indents, short lists on one line, and trailing commas."""
    pad = "  " * level
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}  {json.dumps(k)}: {_dump(v, level + 1)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list):
        one_line = "[" + ", ".join(json.dumps(item) for item in value) + "]"
        if all(not isinstance(item, dict | list) for item in value) and len(one_line) <= 72:
            return one_line
        items = [f"{pad}  {_dump(item, level + 1)}," for item in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    return json.dumps(value)


def parse_hujson(text: str) -> Any:
    """Parse HuJSON (JSON with comments and trailing commas) with the json5 library.

    HuJSON is a subset of JSON5, so every policy Tailscale accepts parses the same here;
    invalid text raises ``ValueError``.
    """
    return json5.loads(text)
