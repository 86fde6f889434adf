"""Settings of hosts in the core role (CPU core, infrastructure and orchestrator services)."""
