"""The registry: every transform, in execution order, and the ids that must never come back.

A test fails when a module is missing from ``REGISTRY``, when an id in ``RETIRED`` is used
again, or when a family's ids have a gap that ``RETIRED`` does not explain.
"""
from __future__ import annotations

from hardener.model import Transform
from hardener.transforms.absolute_workdir import AbsoluteWorkdir
from hardener.transforms.add_to_copy import AddToCopy
from hardener.transforms.apk_hygiene import ApkNoCache
from hardener.transforms.apt_hygiene import AptHygiene
from hardener.transforms.bind_ports_localhost import BindPortsLocalhost
from hardener.transforms.build_secrets import BuildSecrets
from hardener.transforms.cap_drop import CapDrop
from hardener.transforms.cd_to_workdir import CdToWorkdir
from hardener.transforms.ci_security_gate import CiSecurityGate
from hardener.transforms.compose_healthcheck import ComposeHealthcheck
from hardener.transforms.compose_secrets import ComposeSecrets
from hardener.transforms.compose_user import ComposeUser
from hardener.transforms.context_secrets import ContextSecrets
from hardener.transforms.duplicate_instructions import DuplicateInstructions
from hardener.transforms.exec_form import ExecForm
from hardener.transforms.final_user_not_root import FinalUserNotRoot
from hardener.transforms.generate_dockerignore import GenerateDockerignore
from hardener.transforms.host_access import HostAccess
from hardener.transforms.interpolation_secrets import InterpolationSecrets
from hardener.transforms.maintainer_label import MaintainerToLabel
from hardener.transforms.narrow_copy import NarrowCopy
from hardener.transforms.no_new_privileges import NoNewPrivileges
from hardener.transforms.no_sudo import NoSudo
from hardener.transforms.npm_ci import NpmCi
from hardener.transforms.numeric_user import NumericUser
from hardener.transforms.oci_labels import AddOciLabels
from hardener.transforms.pin_base_image import PinBaseImage
from hardener.transforms.pin_compose_image import PinComposeImage
from hardener.transforms.pip_no_cache import PipNoCacheDir
from hardener.transforms.pipefail import Pipefail
from hardener.transforms.read_only_root import ReadOnlyRoot
from hardener.transforms.resource_limits import ResourceLimits
from hardener.transforms.rpm_hygiene import RpmHygiene
from hardener.transforms.run_as_non_root import RunAsNonRoot
from hardener.transforms.run_snippet import RunSnippet
from hardener.transforms.runtime_rules import AddRuntimeRules
from hardener.transforms.segment_networks import SegmentNetworks
from hardener.transforms.split_build_stage import SplitBuildStage
from hardener.transforms.tls_verification import TlsVerification

REGISTRY: list[type[Transform]] = [
    PinBaseImage,
    PinComposeImage,
    TlsVerification,
    RunAsNonRoot,
    NoSudo,
    FinalUserNotRoot,
    NumericUser,
    ComposeUser,
    AddToCopy,
    GenerateDockerignore,
    ContextSecrets,
    NarrowCopy,
    BuildSecrets,
    ExecForm,
    AptHygiene,
    ApkNoCache,
    RpmHygiene,
    PipNoCacheDir,
    NpmCi,
    Pipefail,
    DuplicateInstructions,
    AbsoluteWorkdir,
    CdToWorkdir,
    SplitBuildStage,
    MaintainerToLabel,
    AddOciLabels,
    CiSecurityGate,
    AddRuntimeRules,
    NoNewPrivileges,
    SegmentNetworks,
    BindPortsLocalhost,
    HostAccess,
    CapDrop,
    ReadOnlyRoot,
    ComposeHealthcheck,
    RunSnippet,
    ResourceLimits,
    ComposeSecrets,
    InterpolationSecrets,
]

# Ids that are not (or no longer) in REGISTRY, with why. An id is never reused: configs,
# `# hardener: ignore=` comments and old reports may still name it.
RETIRED: dict[str, str] = {
    "HD503": "never shipped: no commit defines or mentions it; add-ci-security-gate was "
             "numbered HD504 when it landed (c1f0faa), leaving HD503 unassigned",
}
