"""Packaged pyinfra deploys: each turns a ``HostPlan`` into operations."""
