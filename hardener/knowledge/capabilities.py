"""Linux capability sets the Compose and docker-run transforms share."""
from __future__ import annotations

# CRI-O's default set (cri-o/cri-o#3119, 2020; Podman's containers.conf is close): OpenShift
# runs arbitrary public images with it, so a service whose needs are unknown keeps these.
RUNTIME_DEFAULT = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE",
                   "SETGID", "SETPCAP", "SETUID")
WITHHELD = ("AUDIT_WRITE", "MKNOD", "NET_RAW", "SETFCAP", "SYS_CHROOT")  # Docker grants them too

# Programs that open ICMP or raw/packet sockets, so need NET_RAW (unless the host's
# net.ipv4.ping_group_range lets unprivileged ICMP through, which a Compose file cannot know).
# Only their name as a program counts: `redis-cli ping` or `curl http://x/ping` open none.
RAW_SOCKET_TOOLS = frozenset({"ping", "ping6", "arping", "traceroute", "traceroute6", "tcpdump", "mtr",
                              "nmap", "fping", "fping6"})
