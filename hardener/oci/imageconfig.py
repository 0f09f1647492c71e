"""The configuration blob of an image (OCI image config / Docker image JSON), as facts.

The blob next to every platform manifest says what the image runs as, which ports it
exposes, its anonymous volumes, its health check, its start command and labels: what the
knowledge base otherwise has to list by hand. Only the runtime part is kept (no history,
no layer ids), so it is small enough to store in the cache and in ``hardener.lock``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SOURCE = "image config"  # the source named in every reason built on these facts


@dataclass(frozen=True)
class ImageConfig:
    user: str = ""  # "" is root, as for Docker
    exposed_ports: tuple[str, ...] = ()  # "8080/tcp"
    volumes: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    working_dir: str = ""
    env: tuple[str, ...] = ()  # "KEY=value"
    stop_signal: str = ""
    healthcheck: tuple[str, ...] | None = None  # Test, e.g. ("CMD-SHELL", "curl -f …") or ("NONE",)
    labels: tuple[tuple[str, str], ...] = ()
    os: str = ""
    architecture: str = ""

    @classmethod
    def from_blob(cls, data: dict[str, Any]) -> ImageConfig:
        """From the config blob a registry serves (``config`` holds the runtime part); a
        ValueError when a field has the wrong shape."""
        inner = data.get("config")
        found = cls.from_json({**_runtime(inner if isinstance(inner, dict) else {}), "os": data.get("os", ""),
                               "architecture": data.get("architecture", "")})
        if found is None:
            raise ValueError("malformed image config")
        return found

    @classmethod
    def from_json(cls, data: Any) -> ImageConfig | None:
        """From what ``to_json`` wrote (cache, lock); None for anything malformed."""
        if not isinstance(data, dict):
            return None
        try:
            labels = data.get("labels") or {}
            return cls(
                str(data.get("user") or ""),
                _strings(data.get("exposed_ports")),
                _strings(data.get("volumes")),
                _optional(data.get("entrypoint")),
                _optional(data.get("cmd")),
                str(data.get("working_dir") or ""),
                _strings(data.get("env")),
                str(data.get("stop_signal") or ""),
                _optional(data.get("healthcheck")),
                tuple(sorted((str(k), str(v)) for k, v in dict(labels).items())),
                str(data.get("os") or ""),
                str(data.get("architecture") or ""),
            )
        except (TypeError, ValueError):
            return None

    def to_json(self) -> dict[str, Any]:
        """Only the fields that are set, so a lock stays short and reviewable."""
        full: dict[str, Any] = {
            "user": self.user, "exposed_ports": list(self.exposed_ports), "volumes": list(self.volumes),
            "entrypoint": None if self.entrypoint is None else list(self.entrypoint),
            "cmd": None if self.cmd is None else list(self.cmd), "working_dir": self.working_dir,
            "env": list(self.env), "stop_signal": self.stop_signal,
            "healthcheck": None if self.healthcheck is None else list(self.healthcheck),
            "labels": dict(self.labels), "os": self.os, "architecture": self.architecture,
        }
        return {k: v for k, v in full.items() if v not in (None, "", [], {})}

    @property
    def has_healthcheck(self) -> bool:
        """A HEALTHCHECK the image runs (``NONE`` disables an inherited one)."""
        return bool(self.healthcheck) and self.healthcheck[0].upper() != "NONE"  # type: ignore[index]

    @property
    def tcp_ports(self) -> tuple[int, ...]:
        out = []
        for port in self.exposed_ports:
            number, _, proto = port.partition("/")
            if number.isdigit() and proto in ("", "tcp"):
                out.append(int(number))
        return tuple(sorted(set(out)))


def config_differences(one: ImageConfig, other: ImageConfig) -> tuple[str, ...]:
    """The runtime facts two platforms' configs disagree on (``User``, ``ExposedPorts`` …);
    os, architecture and labels are expected to differ and are not compared."""
    a, b = one.to_json(), other.to_json()
    return tuple(_DOCKER_NAMES[k] for k in _DOCKER_NAMES if a.get(k) != b.get(k))


_DOCKER_NAMES = {"user": "User", "exposed_ports": "ExposedPorts", "volumes": "Volumes", "entrypoint": "Entrypoint",
                 "cmd": "Cmd", "healthcheck": "Healthcheck", "working_dir": "WorkingDir"}


def _runtime(inner: dict[str, Any]) -> dict[str, Any]:
    """The Docker-cased runtime keys (``User``, ``ExposedPorts``…) in the stored spelling."""
    health = inner.get("Healthcheck")
    return {
        "user": inner.get("User"),
        "exposed_ports": sorted(inner.get("ExposedPorts") or {}),
        "volumes": sorted(inner.get("Volumes") or {}),
        "entrypoint": inner.get("Entrypoint"),
        "cmd": inner.get("Cmd"),
        "working_dir": inner.get("WorkingDir"),
        "env": inner.get("Env") or [],
        "stop_signal": inner.get("StopSignal"),
        "healthcheck": health.get("Test") if isinstance(health, dict) else None,
        "labels": inner.get("Labels") or {},
    }


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise TypeError("not a list")
    return tuple(str(v) for v in value)


def _optional(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):  # a shell-form Entrypoint/Cmd some builders store as one string
        return (value,)
    return None if value is None else _strings(value)
