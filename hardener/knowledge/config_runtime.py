"""What a container runs and listens on when the Dockerfile or Compose file does not say:
the start command and ports of the base image's config blob (``hardener.oci.imageconfig``).

Docker's rules decide which part of the config still applies: an ENTRYPOINT written in the
Dockerfile replaces the config's Entrypoint and drops its Cmd; a CMD alone replaces only the
Cmd, so the config's Entrypoint still starts the container (s6-overlay's ``/init``). These
facts only ever add a refusal (a privileged port, a command that needs root): a guess from
them would be the wrong way round.
"""
from __future__ import annotations

from typing import Any

from hardener.knowledge import images, start_ports
from hardener.knowledge.images import Base
from hardener.oci.imageconfig import SOURCE, ImageConfig

_INIT = ("/init",)  # s6-overlay's init as the whole entrypoint


def config_start(config: ImageConfig, entrypoint_written: bool, cmd_written: bool) -> tuple[str, ...]:
    """The words of the start command the config still contributes (Docker's rules)."""
    if entrypoint_written:
        return ()
    entry = config.entrypoint or ()
    return entry if cmd_written else entry + (config.cmd or ())


def command_ports(words: tuple[str, ...]) -> tuple[int, ...]:
    """Ports the start command's own flags choose (``--port 80``, ``-b 0.0.0.0:80``)."""
    return tuple(port for port, _flag in start_ports.command_ports(words))


def listening_ports(config: ImageConfig, start: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """(port, where it was read) from the config's command flags, then its ExposedPorts."""
    out = [(p, f"its {SOURCE}'s start command {' '.join(start)!r}") for p in command_ports(start)]
    out += [(p, f"its {SOURCE} exposes {p}/tcp") for p in config.tcp_ports if p not in dict(out)]
    return tuple(out)


def s6_init(start: tuple[str, ...]) -> bool:
    return start[:1] == _INIT


def privileged_port_reason(port: int, where: str, alt: str) -> str:
    """One phrasing for a privileged port, whether the Dockerfile, the knowledge base or the
    image config names it. Docker Engine 20.10 and later start containers with
    net.ipv4.ip_unprivileged_port_start=0, so the bind itself would succeed there; the refusal
    is about the places where it does not."""
    return (f"binds privileged port {port}{where}: a non-root user can bind it under Docker/Compose only "
            "because Docker Engine >= 20.10 sets net.ipv4.ip_unprivileged_port_start=0, not on Kubernetes, "
            f"with --sysctl overrides or rootless engines; listen on a port ≥ 1024 (e.g. 8080){alt}")


def config_obstacle(base: Base, ctx: Any) -> str | None:
    """Why a stage on a base the knowledge base does not know must keep running as root,
    read from the base's image config: what it starts (s6-overlay's /init, a user-switching
    tool, a root-only command) or a privileged port it listens on. None: nothing found (or
    no config; the knowledge base wins where it knows the image)."""
    from hardener.knowledge.image_facts import image_facts

    if base.image is None or base.info is not None:
        return None
    facts = image_facts(ctx, base.image)
    if facts is None or facts.config is None:
        return None
    insts = base.instructions()
    entry_written = any(i.keyword == "ENTRYPOINT" for i in insts)
    start = config_start(facts.config, entry_written, any(i.keyword == "CMD" for i in insts))
    text = " ".join(start)
    if s6_init(start):
        return (f"the image drops privileges itself: the ENTRYPOINT in its {SOURCE} is s6-overlay's /init, which "
                "prepares the container and starts each service under its own user; it must start as root")
    if tool := images.switching_tool(text):
        return (f"the image drops privileges itself: the start command in its {SOURCE} ({text}) switches users "
                f"itself ({tool}); it must start as root")
    if command := images.root_command(text):
        return f"needs root at run time: the start command in its {SOURCE} ({text}) runs {command!r}"
    privileged = [(p, where) for p, where in listening_ports(facts.config, start) if p < 1024]
    if privileged:
        port, where = privileged[0]
        return privileged_port_reason(port, f" ({where})", " or the image's own setting for its port")
    return None


def probe_hint(config: ImageConfig | None, entrypoint_written: bool, cmd_written: bool) -> str:
    """A refusal's suffix naming the port the image config says the service listens on and the
    health check the user could write. Never a probe hardener adds itself: an exposed port says
    nothing about the protocol, or whether curl or wget is in the image."""
    if config is None:
        return ""
    ports = listening_ports(config, config_start(config, entrypoint_written, cmd_written))
    if not ports:
        return ""
    port, where = ports[0]
    return (f"; it listens on port {port} ({where}), but its protocol and whether the image has curl or wget "
            "are not known: write the "
            f"healthcheck yourself, e.g. `test: [\"CMD\", \"wget\", \"-q\", \"--spider\", \"http://localhost:{port}/\"]` "
            "if it serves HTTP and has wget")
