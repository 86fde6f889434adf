"""pyinfra inventory of the running machines of the project's Vagrantfile.

    pyinfra inventory/vagrant.py deploy/all.py

pyinfra turns every module-level list of ``(name, data)`` tuples into a group,
so the role groups and ``vagrant`` are bound below and everything else starts
with an underscore. Roles come from ``FKS_VAGRANT_HOSTS`` (default: the
Vagrantfile's ``DEFAULT_HOSTS``); see docs/VAGRANT.md.
"""

from pathlib import Path

from pyinfra.api.exceptions import InventoryError

from fks_infra.vagrant import VagrantError, load_groups

# The Vagrantfile sits at the repository root, one level above this file;
# Vagrant keeps its machine state beside it, so it must run there.
try:
    _groups = load_groups(Path(__file__).resolve().parent.parent)
except VagrantError as _error:
    # pyinfra prints its own errors as one line naming this file; anything
    # else would come out as a traceback around the message.
    raise InventoryError(str(_error)) from None

core = _groups["core"]
gpu = _groups["gpu"]
bridge = _groups["bridge"]
datastore = _groups["datastore"]
vagrant = _groups["vagrant"]
