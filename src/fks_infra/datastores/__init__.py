"""PostgreSQL and Redis on the datastore host, and what services are told of them.

``config.py`` is pure; ``deploy.py``, ``operations.py`` and ``facts.py`` are the pyinfra side.
"""
