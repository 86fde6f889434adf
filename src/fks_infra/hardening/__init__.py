"""Host hardening beyond sshd: kernel parameters, module blacklist, core dumps, security
updates, login banner and the audit tools a server of this stack carries.

``config.py`` is pure; ``deploy.py``, ``facts.py`` and ``operations.py`` are the pyinfra side.
"""
