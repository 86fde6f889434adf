"""Time: chrony's config and the drop-in for hosts that may not set the clock.

``config.py`` is pure; ``deploy.py`` is the pyinfra side.
"""
