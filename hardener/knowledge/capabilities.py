"""Linux capability sets the Compose and docker-run transforms share."""
from __future__ import annotations

# CRI-O's default set (cri-o/cri-o#3119, 2020; Podman's containers.conf is close): OpenShift
# runs arbitrary public images with it, so a service whose needs are unknown keeps these.
RUNTIME_DEFAULT = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE",
                   "SETGID", "SETPCAP", "SETUID")
WITHHELD = ("AUDIT_WRITE", "MKNOD", "NET_RAW", "SETFCAP", "SYS_CHROOT")  # Docker grants them too
