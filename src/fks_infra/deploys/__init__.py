"""Packaged pyinfra deploys: each turns a ``HostPlan`` into operations."""

from fks_infra.deploys import globalargs, stackorder

globalargs.install()
stackorder.install()
