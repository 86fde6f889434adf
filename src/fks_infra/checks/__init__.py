"""The live checks ``fks-infra verify`` runs with testinfra against an inventory's hosts.

One test per concern, parametrised by the plan (ids ``host/service/check``): a check exists
only where the plan puts what it checks. Shipped in the package, so an installed
fks-infra verifies hosts without a checkout.
"""
