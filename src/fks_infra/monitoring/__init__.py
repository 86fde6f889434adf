"""Monitoring: node exporter everywhere, Prometheus, Alertmanager, blackbox exporter, Grafana files.

``config.py`` is pure; ``deploy.py`` is the pyinfra side.
"""
