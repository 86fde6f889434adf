"""The nftables firewall of a host.

``ruleset.py`` is pure; ``deploy.py`` is the pyinfra side.
"""
