"""The local lab: real systemd hosts in systemd-nspawn containers on this machine.

The lab gives every deploy and verification a target that behaves like a fresh
Debian cloud VM (systemd as PID 1, sshd, apt) without a hypervisor or network
access beyond the package registries. See ``docs/LAB.md``.
"""
