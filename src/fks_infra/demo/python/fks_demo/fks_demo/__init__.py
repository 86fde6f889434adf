"""Stand-in for an FKS Python service: an ASGI app (``fks_demo.app``) and its release tasks
(``fks_demo.tasks``).

Each demo service ``fks_<name>`` is a thin package whose ``main.py`` calls
``fks_demo.app.create_app`` with its own name, so the behaviour lives here once. Only the app
needs the compiled dependency (``fks_demo.compiled``); the tasks stay standard library only,
so this package imports nothing itself.
"""
