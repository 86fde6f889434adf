"""fks-infra: provision and verify hosts of the FKS trading stack with pyinfra 3."""

__version__ = "0.1.0"
