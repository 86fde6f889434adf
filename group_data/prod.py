"""Settings of the hosts of inventory/prod.py."""

# Production secrets live in their own file (chmod 600, never committed).
fks_secrets_file = "secrets/prod.toml"
