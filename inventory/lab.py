"""pyinfra inventory of the local lab (``fks-infra lab up``): one group per role, plus ``lab``.

Usage: ``pyinfra inventory/lab.py deploy/all.py``. The hosts come from the lab's
state file (``.lab/state.json``, or ``$FKS_LAB_DIR/state.json``).
"""

from pyinfra.api.exceptions import InventoryError

from fks_infra.lab.errors import LabError
from fks_infra.lab.inventory import lab_groups

try:
    _groups = lab_groups()
except LabError as _exc:
    # A pyinfra error is reported as one line naming this file, not as a traceback.
    raise InventoryError(str(_exc)) from None

globals().update(_groups)
