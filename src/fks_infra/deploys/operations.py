"""fks-infra's own pyinfra operations: they compare facts and yield commands.

They exist where pyinfra's stock operations would leak or half-apply: ``files.put`` shows
file contents under ``--diff`` (secrets) and writes the destination in place (a killed run
leaves half a file); restarts and rollbacks must follow the host's recorded state, not a
change flag decided before anything ran.
"""

from __future__ import annotations

import getpass
import hashlib
import posixpath
import shlex
import time
from collections.abc import Generator, Sequence
from io import BytesIO

from pydantic import SecretStr
from pyinfra import logger
from pyinfra.api.command import FileUploadCommand, StringCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.deb import DebPackages

from fks_infra.catalogue import Service
from fks_infra.datastores import scram_verifier, setup_sql, verifier_matches
from fks_infra.deploys.factcache import changing, fact, file_digest, unit_state
from fks_infra.deploys.facts import (
    TAILSCALE_AUTHKEY_FILE,
    TAILSCALE_UP_HASH,
    Account,
    DeployedServices,
    DirectoryModes,
    NvidiaHost,
    PostgresDatabase,
    Preflight,
    TailscaleNode,
)
from fks_infra.tailnet import arguments_hash

ROLLOUT = "/usr/local/lib/fks-infra/fks-rollout"
#: fks_infra/releases/manifest.py on the host; fks-rollout runs it on every new release.
VERIFY_RELEASE = "/usr/local/lib/fks-infra/verify-release"
#: Root-only: files get their content, mode and owner here before they are renamed into place.
STAGING_DIR = "/var/lib/fks-infra/staging"
#: One directory per login user (``uploads/<user>``, 0700, theirs): over sudo, pyinfra's SFTP
#: writes as the login user, so the bytes land there before root copies them to the staging
#: directory. Each operator keeps their own, so runs by different operators in turn leave
#: every directory as they found it (one shared directory would change owner on every run).
UPLOADS_DIR = "/var/lib/fks-infra/uploads"
#: The setup script of the FKS role and database, for the length of one psql run (root-only).
POSTGRES_SETUP_FILE = "/var/lib/fks-infra/postgres-setup.sql"


@operation()
def private_file(
    content: bytes, dest: str, mode: str = "600", user: str = "root", group: str = "root"
) -> Generator[object, None, None]:
    """Write a file atomically, never showing its content; for secrets and artifacts.

    + content: the exact bytes the file must hold
    + dest: absolute path on the host
    + mode, user, group: what the file must end up as

    The bytes go to a root-only staging directory first, get their mode and owner there,
    and are renamed into place: the file is never world-readable and never half-written.
    Pass ``name=`` when calling, so no argument can leak into the operation's name.
    """
    yield from _private_file(content, dest, mode, user, group)


def _private_file(
    content: bytes, dest: str, mode: str, user: str, group: str
) -> Generator[object, None, None]:
    """``private_file``'s commands, for operations that write several files."""
    wanted = hashlib.sha256(content).hexdigest()
    current = file_digest(dest)
    if current == {"sha256": wanted, "mode": mode, "user": user, "group": group}:
        return
    changing()
    if current and current["sha256"] == wanted:
        yield StringCommand("chown", f"{user}:{group}", dest)
        yield StringCommand("chmod", mode, dest)
        return
    logger.debug("%s: writing %s (content not shown)", host.name, dest)
    yield from _private_upload(content, dest, mode, user, group)


def login_user() -> str:
    """The user this run logs into the current host as: the SSH connection's own (an
    ssh_config ``User`` counts), else the host's ``ssh_user``, else paramiko's default, the
    local user name."""
    client = getattr(host.connector, "client", None)
    transport = client.get_transport() if client is not None else None
    if transport is not None and transport.get_username():
        return str(transport.get_username())
    return str(host.data.get("ssh_user") or getpass.getuser())


def upload_path(name: str) -> str:
    """Where pyinfra's SFTP puts the bytes of staged file ``name`` when commands run through
    sudo (its ``remote_temp_filename``): the login user's own uploads directory."""
    return f"{UPLOADS_DIR}/{login_user()}/{name}.part"


def _private_upload(
    content: bytes, dest: str, mode: str, user: str, group: str
) -> Generator[object, None, None]:
    """The commands that put ``content`` at ``dest`` unseen and whole (see ``private_file``)."""
    name = hashlib.sha256(content).hexdigest()[:16]
    staged = f"{STAGING_DIR}/{name}"
    # Over sudo, pyinfra uploads as the login user to the temporary name (in their own
    # uploads directory) and copies it as root into the root-only staging directory.
    yield FileUploadCommand(BytesIO(content), staged, remote_temp_filename=upload_path(name))
    yield StringCommand("mkdir", "-p", posixpath.dirname(dest))
    yield StringCommand("chown", f"{user}:{group}", staged)
    yield StringCommand("chmod", mode, staged)
    yield StringCommand("mv", "-f", staged, dest)


@operation()
def tailscale_up(arguments: Sequence[str], auth_key: SecretStr) -> Generator[object, None, None]:
    """Run ``tailscale up`` when its arguments changed or the node is not logged in.

    + arguments: ``tailscale up``'s arguments, without the auth key (see ``tailnet.up_arguments``)
    + auth_key: the key, used only when the node must log in

    The key travels like a ``private_file``: uploaded unseen into a root-only file, passed as
    ``--auth-key=file:PATH`` (never in argv) and removed by the same shell, whatever ``up``
    returns. The hash of the arguments is recorded (root-only) only after ``up`` succeeded,
    so a failed ``up`` is tried again on the next run. The key is not part of the hash: a
    rotated key does not log a running node in again.
    """
    wanted = arguments_hash(arguments)
    node = fact(TailscaleNode)
    if node["backend_state"] == "Running" and node["up_sha256"] == wanted:
        if node["authkey_left"]:
            changing()
            yield StringCommand("rm", "-f", TAILSCALE_AUTHKEY_FILE)
        return
    changing()
    yield from _private_upload(
        auth_key.get_secret_value().encode(), TAILSCALE_AUTHKEY_FILE, "600", "root", "root"
    )
    yield StringCommand(
        "trap",
        shlex.quote(f"rm -f {TAILSCALE_AUTHKEY_FILE}"),
        "EXIT;",
        "tailscale",
        "up",
        *(shlex.quote(arg) for arg in arguments),
        f"--auth-key=file:{TAILSCALE_AUTHKEY_FILE}",
    )
    yield StringCommand(
        f"umask 077 && echo {wanted} > {TAILSCALE_UP_HASH}.tmp "
        f"&& mv -f {TAILSCALE_UP_HASH}.tmp {TAILSCALE_UP_HASH}"
    )


#: Where systemd reads the unit files fks-infra writes.
UNIT_DIR = "/etc/systemd/system"


def _files_in_place(
    files: Sequence[tuple[str, bytes | None, str]],
) -> Generator[object, None, list[str]]:
    """The commands that give each file its content, as ``private_file`` does (owned by
    root; ``None`` as content: removed when there), then reload systemd when a unit file or
    drop-in changed. Returns the paths that changed."""
    changed = []
    for dest, content, mode in files:
        if content is None:
            commands: list[object] = []
            if file_digest(dest) is not None:
                changing()
                commands.append(StringCommand("rm", "-f", dest))
        else:
            commands = list(_private_file(content, dest, mode, "root", "root"))
        yield from commands
        if commands:
            changed.append(dest)
    if any(dest.startswith(f"{UNIT_DIR}/") for dest in changed):
        yield "systemctl daemon-reload"
    return changed


@operation()
def service_release(
    service: Service,
    files: Sequence[tuple[str, bytes, str]],
    deploy_id: str,
    arguments: list[str],
) -> Generator[object, None, None]:
    """Put a service's files in place, then run fks-rollout unless ``deploy_id`` is recorded.

    + service: the catalogue entry
    + files: (path, content, mode) of its release tarball, env file and unit files, each
      written as ``private_file`` writes one: unseen, whole, owned by root
    + deploy_id: digest of everything that must restart the service when it changes
      (release, units, env file); fks-rollout records it after a healthy start
    + arguments: fks-rollout's arguments (no secrets: those live in the env file)

    One operation per service, not one per file: a converged host costs pyinfra a few
    operations per service less. A changed unit file reloads systemd before the rollout.
    A failed rollout records nothing, so the next run tries again.
    """
    yield from _files_in_place(files)
    if fact(DeployedServices).get(service.name) == deploy_id:
        return
    changing()
    yield StringCommand(ROLLOUT, *(shlex.quote(arg) for arg in arguments))


@operation()
def remove_services(services: Sequence[Service]) -> Generator[object, None, None]:
    """Stop, disable and delete the services the plan no longer places on this host.

    + services: catalogue entries; those the host has nothing of are skipped, so a host
      that never had any of them costs no command
    """
    deployed = fact(DeployedServices)
    present = [service for service in services if service.name in deployed]
    if not present:
        return
    changing()
    units = [unit for service in present for unit in (*service.companion_units, service.unit)]
    for unit in units:
        yield f"systemctl disable --now {unit} 2>/dev/null || true"
    for service in present:
        yield StringCommand(
            "rm",
            "-rf",
            *(f"{UNIT_DIR}/{unit}" for unit in (*service.companion_units, service.unit)),
            service.env_file,
            service.install_dir,
            f"/var/lib/fks-infra/deployed/{service.name}",
        )
    yield "systemctl daemon-reload"
    # A unit that failed while stopping would keep the host "degraded" after its file is
    # gone. One at a time: systemctl stops at the first unit that is not loaded.
    for unit in units:
        yield StringCommand("systemctl", "reset-failed", unit, "2>/dev/null", "||", "true")


@operation()
def self_signed_certificate(
    certificate: str, key: str, common_name: str, addresses: tuple[str, ...] = (), days: int = 825
) -> Generator[object, None, None]:
    """Make a self-signed certificate and its key on the host, only when either is missing.

    + certificate, key: absolute paths on the host (the key ends up root-only, mode 600)
    + common_name: the certificate's subject CN, also its first DNS subjectAltName
    + addresses: IP addresses the certificate also names
    + days: validity

    The key is made on the host and never leaves it. An existing pair is kept as it is.
    """
    if file_digest(certificate) and file_digest(key):
        return
    changing()
    alt_names = ",".join([f"DNS:{common_name}", *(f"IP:{address}" for address in addresses)])
    new_key, new_certificate = f"{key}.fks-new", f"{certificate}.fks-new"
    yield StringCommand("mkdir", "-p", "-m", "700", posixpath.dirname(key))
    yield (
        "umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        f"-nodes -sha256 -days {days} -subj {shlex.quote('/CN=' + common_name)} "
        f"-addext {shlex.quote('subjectAltName=' + alt_names)} "
        f"-keyout {shlex.quote(new_key)} -out {shlex.quote(new_certificate)}"
    )
    yield StringCommand("chmod", "644", new_certificate)
    yield StringCommand("mv", "-f", new_key, key)
    yield StringCommand("mv", "-f", new_certificate, certificate)


@operation()
def service_state(
    units: Sequence[str], running: bool | None = True, enabled: bool | None = True
) -> Generator[object, None, None]:
    """Start and enable those of some systemd services that are not so already.

    + units: service units; one ``systemctl enable`` and one ``systemctl start`` for all
      that need it
    + running: start each unless it is active; ``None`` leaves them as they are
    + enabled: enable each unless its unit file is enabled; ``None`` leaves them as they are

    The states of the units fks-infra manages come from one read per host, shared by every
    ``service_state`` of the run; pyinfra's ``systemd.service`` reads two facts per unit.
    """
    yield from _service_state(units, running, enabled)


def _service_state(
    units: Sequence[str], running: bool | None, enabled: bool | None
) -> Generator[object, None, None]:
    """``service_state``'s commands, for operations that also keep units running."""
    if not (running or enabled):
        return  # nothing wanted of the units: nothing to read either
    states = {unit: unit_state(unit) for unit in units}
    disabled = [unit for unit, state in states.items() if state.get("enabled") != "enabled"]
    stopped = [
        unit for unit, state in states.items() if state.get("active") not in ("active", "reloading")
    ]
    if enabled and disabled:
        changing()
        yield StringCommand("systemctl", "enable", *disabled)
    if running and stopped:
        changing()
        yield StringCommand("systemctl", "start", *stopped)


@operation()
def daemon_files(
    unit: str,
    files: Sequence[tuple[str, bytes | None, str]],
    restart: bool = True,
    running: bool | None = True,
    enabled: bool | None = True,
) -> Generator[object, None, None]:
    """A daemon's own files (its ``/etc/default`` file, a unit drop-in), the daemon in step.

    + unit: the daemon's service unit
    + files: (path, content, mode) of each file, written as ``private_file`` writes one
      (owned by root); ``None`` as content: the file must not be there
    + restart: restart ``unit`` when any file changed (a daemon reads them at start);
      a changed file under the unit directory reloads systemd first, restart or not
    + running, enabled: as for ``service_state``

    One operation where "write, reload, restart when changed, keep running" took three or
    four: each costs pyinfra time on every host, even when nothing changes.
    """
    changed = yield from _files_in_place(files)
    if changed and restart:
        yield StringCommand("systemctl", "restart", unit)
    yield from _service_state([unit], running, enabled)


#: apt-get as the deploy runs it: no questions, and a changed conffile keeps the host's copy.
APT_GET_INSTALL = (
    "DEBIAN_FRONTEND=noninteractive apt-get install -y -q "
    "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
)
#: The same without recommends, for the NVIDIA driver (a server needs none of its X tools).
APT_INSTALL = f"{APT_GET_INSTALL} --no-install-recommends"

#: apt's stamp of its last successful ``apt-get update``.
APT_UPDATE_STAMP = "/var/lib/apt/periodic/update-success-stamp"


@operation()
def packages(
    names: Sequence[str], recommends: bool = True, lists_max_age_s: int = 86400
) -> Generator[object, None, None]:
    """Install the Debian packages of ``names`` that are not installed.

    + names: package names, any version
    + recommends: install what they recommend too, as apt does by default
    + lists_max_age_s: before installing, refresh the apt lists when older than this

    Installed packages come from one ``dpkg`` read shared by every package operation of the
    run (until fks-infra changes the host); a converged host costs no command here.
    """
    installed = fact(DebPackages)
    missing = [name for name in names if name not in installed]
    if not missing:
        return
    changing()
    minutes = max(1, lists_max_age_s // 60)
    yield (
        f"find {APT_UPDATE_STAMP} -mmin -{minutes} 2>/dev/null | grep -q . "
        "|| DEBIAN_FRONTEND=noninteractive apt-get update -q"
    )
    install = APT_GET_INSTALL if recommends else APT_INSTALL
    yield f"{install} {' '.join(shlex.quote(name) for name in missing)}"


@operation()
def system_account(
    user: str, shell: str = "/usr/sbin/nologin", home: str = "/nonexistent"
) -> Generator[object, None, None]:
    """A system group and a system user of the same name, in that group, with no home.

    + user: the user's and the group's name
    + shell, home: what the user's passwd entry must say (the home is never created)
    """
    found = fact(Account, account=user)
    group, entry = found.get("group"), found.get("passwd")
    if group is None:
        changing()
        yield StringCommand("groupadd", "--system", user)
    if entry is None:
        changing()
        yield StringCommand(
            "useradd", "--system", "--gid", user, "--shell", shell, "--home-dir", home,
            "--no-create-home", user,
        )  # fmt: skip
    elif group is None or (entry[3], entry[5], entry[6]) != (group[2], home, shell):
        changing()
        yield StringCommand("usermod", "--gid", user, "--shell", shell, "--home", home, user)


@operation()
def directories(layout: tuple[tuple[str, str, str], ...]) -> Generator[object, None, None]:
    """Make directories exist with their mode and owner, read in one fact.

    + layout: (path, mode, owner) for each directory; the group is the owner's
    """
    current = fact(DirectoryModes, paths=tuple(path for path, _, _ in layout))
    for path, mode, owner in layout:
        if current.get(path) != (mode, owner):
            changing()
            yield StringCommand("install", "-d", "-m", mode, "-o", owner, path)


@operation()
def preflight(min_free_mib: int, max_clock_skew_s: int) -> Generator[object, None, None]:
    """Stop this host before any change when its disk is almost full or its clock is off.

    + min_free_mib: free space / must have
    + max_clock_skew_s: largest difference allowed between the host's and this machine's clock

    A healthy host yields nothing. A failing one yields a command that prints the reason and
    fails, so pyinfra stops the host here and names it in the summary.
    """
    found = fact(Preflight)
    problems = []
    if found["free_mib"] < min_free_mib:
        problems.append(f"only {found['free_mib']} MiB free on / (need {min_free_mib})")
    skew = abs(found["clock"] - int(time.time()))
    if skew > max_clock_skew_s:
        problems.append(f"clock is {skew} s off this machine's (at most {max_clock_skew_s})")
    if problems:
        message = "pre-flight check failed: " + "; ".join(problems)
        yield f"echo {shlex.quote(message)} >&2; exit 1"


@operation()
def pinned_packages(packages: Sequence[str], version_prefix: str) -> Generator[object, None, None]:
    """Install packages at a version that starts with ``version_prefix`` (apt pins hold it).

    + packages: Debian package names
    + version_prefix: e.g. ``535`` for the driver branch (matches ``535.309.01-0+deb12u1``)

    Installs when any package is missing or at another version, asking apt for
    ``name=<prefix>.*`` (the apt preferences written before choose among those;
    ``--allow-downgrades`` lets it go back to the pin). A branch the sources do not have
    fails right here, naming the version apt could not find, instead of apt quietly
    keeping the installed one.
    """
    installed = fact(DebPackages)
    wrong = [
        name
        for name in packages
        if not any(v.startswith(f"{version_prefix}.") for v in installed.get(name, []))
    ]
    if not wrong:
        return
    changing()
    wanted = " ".join(shlex.quote(f"{name}={version_prefix}.*") for name in packages)
    yield f"{APT_INSTALL} --allow-downgrades {wanted}"


@operation()
def kernel_headers() -> Generator[object, None, None]:
    """Install the headers of the running kernel, so DKMS can build the NVIDIA module for it."""
    kernel = fact(NvidiaHost)["kernel"]
    if not kernel:
        raise OperationError("cannot tell the running kernel (uname -r said nothing)")
    package = f"linux-headers-{kernel}"
    if package in fact(DebPackages):
        return
    changing()
    yield f"{APT_INSTALL} {shlex.quote(package)}"


@operation()
def postgres_database(
    user: str, database: str, password: SecretStr, extensions: Sequence[str] = ()
) -> Generator[object, None, None]:
    """Create the FKS role and database if missing, set the password, create extensions.

    + user: login role of the services, owner of ``database``
    + database: the database
    + password: the role's password; only its SCRAM verifier reaches the host
    + extensions: extensions to create in ``database`` (their packages installed already)

    Nothing happens when the role's stored verifier is that of ``password``, the database
    is owned by ``user`` and has every extension. Otherwise the setup script (safe to run
    again) travels like a ``private_file`` into a root-only file, is fed to ``psql`` on
    stdin by root's shell (never in argv; psql runs as postgres) and is removed whatever
    psql returns.
    """
    state = host.get_fact(PostgresDatabase, user=user, database=database)
    secret = password.get_secret_value()
    verifier = state["verifier"]
    present = state["extensions"]
    assert isinstance(present, list)
    if (
        isinstance(verifier, str)
        and verifier_matches(verifier, secret)
        and state["owner"] == user
        and all(name in present for name in extensions)
    ):
        return
    script = setup_sql(user, database, scram_verifier(secret), tuple(extensions))
    yield from _private_upload(script.encode(), POSTGRES_SETUP_FILE, "600", "root", "root")
    yield StringCommand(
        "trap",
        shlex.quote(f"rm -f {POSTGRES_SETUP_FILE}"),
        "EXIT;",
        "runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -f - <",
        POSTGRES_SETUP_FILE,
    )
