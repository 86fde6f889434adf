"""Tailscale: the node's tags and ``tailscale up`` arguments, the tailnet policy, the deploy.

``node.py`` and ``policy.py`` are pure (no pyinfra import); ``deploy.py``, ``operations.py`` and
``facts.py`` are the pyinfra side.
"""
