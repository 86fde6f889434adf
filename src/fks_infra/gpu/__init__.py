"""The GPU role: NVIDIA driver sources, pins and packages, GPU devices for services.

``driver.py`` is pure; ``deploy.py``, ``operations.py`` and ``facts.py`` are the pyinfra side.
"""
