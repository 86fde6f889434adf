"""The FKS services: units, env files, releases as they travel, the health-gated rollout.

``units.py`` and ``envfile.py`` are pure; ``shipping.py`` builds releases on the control
machine; ``deploy.py``, ``operations.py`` and ``facts.py`` are the pyinfra side.
"""
