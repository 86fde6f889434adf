"""Where each lab guest's own cgroups go: below this process's cgroup in every hierarchy."""

from __future__ import annotations

import pytest

from fks_infra.lab.cgroups import HIERARCHIES, own_cgroup

#: /proc/self/cgroup on this kind of machine (hybrid; its PID 1 is not systemd).
HYBRID = """9:name=systemd:/
8:pids:/
4:memory:/process_api/356de74411b7f6d96796385833bdeb06
3:cpuset:/
0::/
"""


def test_each_hierarchy_is_found_by_its_name_or_as_v2() -> None:
    found = {hierarchy: own_cgroup(hierarchy, HYBRID) for hierarchy in HIERARCHIES}
    assert found == {
        "memory": "/process_api/356de74411b7f6d96796385833bdeb06",
        "pids": "/",
        "systemd": "/",
        "unified": "/",
    }


def test_the_unit_trees_are_among_the_hierarchies_every_guest_gets_apart() -> None:
    """Guests that shared one ``payload`` cgroup shared their units' cgroups (219/CGROUP)."""
    assert {"systemd", "unified"} <= HIERARCHIES.keys()


def test_a_missing_hierarchy_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match="no cgroup hierarchy name=systemd"):
        own_cgroup("systemd", "0::/\n")
