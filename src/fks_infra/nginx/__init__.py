"""nginx on edge hosts: its config, its TLS pair, the deploy.

``config.py`` and ``tls.py`` are pure; ``deploy.py`` and ``operations.py`` are the pyinfra side.
"""
