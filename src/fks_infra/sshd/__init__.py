"""sshd: the hardening drop-in and its checks.

``config.py`` is pure; ``deploy.py`` and ``facts.py`` are the pyinfra side.
"""
