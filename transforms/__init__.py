"""The registry: every transform, in execution order, and the ids that must never come back.

A transform module is imported only when a run needs it: ``MANIFEST`` names each one's
module, class, id, name and document kinds, so a run over Dockerfiles alone (a pre-commit
hook given one changed file) or with ``--select`` never imports the others and what they
pull in (ruamel.yaml, the Compose project model). ``REGISTRY`` imports them all.

A test fails when a module is missing from ``MANIFEST``, when a row disagrees with its
class, when an id in ``RETIRED`` is used again, or when a family's ids have a gap that
``RETIRED`` does not explain.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Collection
from typing import NamedTuple

from hardener.model import Transform


class _Entry(NamedTuple):
    module: str  # under hardener.transforms
    cls: str
    id: str
    name: str
    targets: tuple[str, ...]


MANIFEST: tuple[_Entry, ...] = (
    _Entry("pin_base_image", "PinBaseImage", "HD101", "pin-base-image", ("dockerfile",)),
    _Entry("pin_compose_image", "PinComposeImage", "HD103", "pin-compose-image", ("compose",)),
    _Entry("tls_verification", "TlsVerification", "HD102", "tls-verification", ("dockerfile",)),
    _Entry("run_as_non_root", "RunAsNonRoot", "HD201", "run-as-non-root", ("dockerfile",)),
    _Entry("no_sudo", "NoSudo", "HD202", "no-sudo", ("dockerfile",)),
    _Entry("final_user_not_root", "FinalUserNotRoot", "HD203", "final-user-not-root", ("dockerfile",)),
    _Entry("numeric_user", "NumericUser", "HD205", "numeric-user", ("dockerfile",)),
    _Entry("compose_user", "ComposeUser", "HD204", "compose-user", ("compose",)),
    _Entry("add_to_copy", "AddToCopy", "HD301", "add-to-copy", ("dockerfile",)),
    _Entry("generate_dockerignore", "GenerateDockerignore", "HD303", "generate-dockerignore", ("dockerfile",)),
    _Entry("context_secrets", "ContextSecrets", "HD304", "context-secrets", ("dockerfile",)),
    _Entry("narrow_copy", "NarrowCopy", "HD305", "narrow-copy", ("dockerfile",)),
    _Entry("build_secrets", "BuildSecrets", "HD302", "build-secrets", ("dockerfile",)),
    _Entry("exec_form", "ExecForm", "HD401", "exec-form", ("dockerfile",)),
    _Entry("apt_hygiene", "AptHygiene", "HD402", "apt-hygiene", ("dockerfile",)),
    _Entry("apk_hygiene", "ApkNoCache", "HD403", "apk-no-cache", ("dockerfile",)),
    _Entry("rpm_hygiene", "RpmHygiene", "HD404", "rpm-hygiene", ("dockerfile",)),
    _Entry("pip_no_cache", "PipNoCacheDir", "HD405", "pip-no-cache-dir", ("dockerfile",)),
    _Entry("npm_ci", "NpmCi", "HD406", "npm-ci", ("dockerfile",)),
    _Entry("pipefail", "Pipefail", "HD407", "pipefail", ("dockerfile",)),
    _Entry("duplicate_instructions", "DuplicateInstructions", "HD408", "duplicate-instructions", ("dockerfile",)),
    _Entry("absolute_workdir", "AbsoluteWorkdir", "HD409", "absolute-workdir", ("dockerfile",)),
    _Entry("cd_to_workdir", "CdToWorkdir", "HD410", "cd-to-workdir", ("dockerfile",)),
    _Entry("split_build_stage", "SplitBuildStage", "HD411", "split-build-stage", ("dockerfile",)),
    _Entry("maintainer_label", "MaintainerToLabel", "HD501", "maintainer-to-label", ("dockerfile",)),
    _Entry("oci_labels", "AddOciLabels", "HD502", "add-oci-labels", ("dockerfile",)),
    _Entry("ci_security_gate", "CiSecurityGate", "HD504", "add-ci-security-gate", ("dockerfile",)),
    _Entry("runtime_rules", "AddRuntimeRules", "HD505", "add-runtime-rules", ("compose",)),
    _Entry("no_new_privileges", "NoNewPrivileges", "HD601", "no-new-privileges", ("compose",)),
    _Entry("segment_networks", "SegmentNetworks", "HD701", "segment-networks", ("compose",)),
    _Entry("bind_ports_localhost", "BindPortsLocalhost", "HD702", "bind-ports-localhost", ("compose",)),
    _Entry("host_access", "HostAccess", "HD602", "host-access", ("compose",)),
    _Entry("cap_drop", "CapDrop", "HD603", "cap-drop", ("compose",)),
    _Entry("read_only_root", "ReadOnlyRoot", "HD604", "read-only-root", ("compose",)),
    _Entry("compose_healthcheck", "ComposeHealthcheck", "HD605", "compose-healthcheck", ("compose",)),
    _Entry("run_snippet", "RunSnippet", "HD608", "run-snippet", ("dockerfile",)),
    _Entry("resource_limits", "ResourceLimits", "HD606", "resource-limits", ("compose",)),
    _Entry("compose_secrets", "ComposeSecrets", "HD607", "compose-secrets", ("compose",)),
    _Entry("interpolation_secrets", "InterpolationSecrets", "HD609", "interpolation-secrets", ("compose",)),
)

REGISTRY: list[type[Transform]]  # every transform class, in order: imported on first use (__getattr__)


def load(kinds: Collection[str] | None = None,
         wanted: Callable[[str, str], bool] = lambda _id, _name: True) -> list[type[Transform]]:
    """The transform classes, in execution order, that work on one of ``kinds`` (all when
    None) and that ``wanted(id, name)`` keeps; only their modules are imported."""
    return [getattr(importlib.import_module(f"{__name__}.{e.module}"), e.cls) for e in MANIFEST
            if (kinds is None or set(e.targets) & set(kinds)) and wanted(e.id, e.name)]


def __getattr__(name: str) -> object:
    if name == "REGISTRY":
        registry = load()
        globals()["REGISTRY"] = registry
        return registry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Ids that are not (or no longer) in REGISTRY, with why. An id is never reused: configs,
# `# hardener: ignore=` comments and old reports may still name it.
RETIRED: dict[str, str] = {
    "HD503": "never shipped: no commit defines or mentions it; add-ci-security-gate was "
             "numbered HD504 when it landed (c1f0faa), leaving HD503 unassigned",
}
