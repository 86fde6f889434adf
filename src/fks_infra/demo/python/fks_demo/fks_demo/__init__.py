"""Stand-in for an FKS Python service: a dependency-free ASGI app.

Each demo service ``fks_<name>`` is a thin package whose ``main.py`` calls
:func:`create_app` with its own name, so the behaviour lives here once.
"""

from fks_demo.app import DemoApp, create_app

__all__ = ["DemoApp", "create_app"]
