"""add-ci-security-gate for GitHub Actions: the text of ``.github/workflows/container-security.yml``.

Everything the workflow runs is pinned: actions to a full commit SHA (``data/actions.toml``),
Gitleaks to a release binary whose sha256 the job checks before running it (the
gitleaks-action needs a paid licence key in organisation repositories), and hardener itself
to this project's own action at a commit (never a package name on PyPI that hardener is not
published under: whoever registered it would run code in every pull request). Strings from
the repository are JSON-quoted (valid YAML double-quoted scalars) and reach shell steps only
through ``env:``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from hardener.ci.images import Image, slugs

# owner/repo[/path]@<40 hex>: hardener's own action, pinned to a commit
ACTION_PIN = re.compile(r"[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}")


@dataclass(frozen=True)
class Gate:
    images: tuple[Image, ...]
    skipped: tuple[tuple[Image, str], ...]  # built only after a prior step: a comment, not an entry
    branches: tuple[str, ...]
    severity: str
    ignore_unfixed: bool
    hardener_action: str | None  # None: no hardening job (not configured)


@cache
def data() -> dict[str, Any]:
    import tomllib
    from importlib.resources import files

    loaded: dict[str, Any] = tomllib.loads(files("hardener").joinpath("data/actions.toml").read_text("utf-8"))
    return loaded


def uses(key: str) -> str:
    action = data()["actions"][key]
    return f"{action['name']}@{action['sha']} # {action['version']}"


_HEAD = """\
{header}
# Builds every image of this repository as Compose builds it, keeps an SBOM of each, fails on
# {severity_text} vulnerabilities and leaked secrets{hardening_text}.
# Every action is pinned to a full commit SHA (version in the comment); update them together.
name: container-security

on:
  push:
    branches: {branches}
  pull_request:

permissions:
  contents: read

concurrency:
  group: ${{{{ github.workflow }}}}-${{{{ github.ref }}}}
  cancel-in-progress: true

jobs:
  secrets:
    name: Secret scan (Gitleaks)
    runs-on: ubuntu-latest
    steps:
      - uses: {checkout}
        with:
          fetch-depth: 0
          persist-credentials: false
      - name: Install Gitleaks {gitleaks_version} (release binary, checksum-verified)
        env:
          GITLEAKS_URL: {gitleaks_url}
          GITLEAKS_SHA256: {gitleaks_sha256}
        run: |
          set -euo pipefail
          curl --fail --silent --show-error --location --output "$RUNNER_TEMP/gitleaks.tar.gz" "$GITLEAKS_URL"
          echo "$GITLEAKS_SHA256  $RUNNER_TEMP/gitleaks.tar.gz" | sha256sum --check --strict
          tar -xzf "$RUNNER_TEMP/gitleaks.tar.gz" -C "$RUNNER_TEMP" gitleaks
      - name: Gitleaks (whole history; secrets redacted in the log)
        run: '"$RUNNER_TEMP/gitleaks" git --redact --no-banner --verbose .'
{hardening}
  images:
    name: Image ${{{{ matrix.name }}}}
    runs-on: ubuntu-latest
    permissions:
      contents: read
      security-events: write # upload-sarif
      actions: read # upload-sarif reads the run's metadata in private repositories
    strategy:
      fail-fast: false
      matrix:
{skipped}        include:
{matrix}
    env:
      IMAGE: hardener-ci/${{{{ matrix.name }}}}:${{{{ github.sha }}}}
    steps:
      - uses: {checkout}
        with:
          persist-credentials: false
      - name: Build
        env:
          DOCKERFILE: ${{{{ matrix.dockerfile }}}}
          BUILD_CONTEXT: ${{{{ matrix.context }}}}
          BUILD_ARGS: ${{{{ matrix.args }}}}
          BUILD_TARGET: ${{{{ matrix.target }}}}
        run: |
          set -euo pipefail
          flags=()
          while IFS= read -r arg; do
            if [ -n "$arg" ]; then flags+=(--build-arg "$arg"); fi
          done <<< "$BUILD_ARGS"
          if [ -n "$BUILD_TARGET" ]; then flags+=(--target "$BUILD_TARGET"); fi
          docker build --file "$DOCKERFILE" --tag "$IMAGE" "${{flags[@]}}" "$BUILD_CONTEXT"
      - name: SBOM (SPDX)
        uses: {sbom}
        with:
          image: ${{{{ env.IMAGE }}}}
          format: spdx-json
          output-file: sbom-${{{{ matrix.name }}}}.spdx.json
          upload-artifact: false
      - name: Keep the SBOM
        uses: {upload_artifact}
        with:
          name: sbom-${{{{ matrix.name }}}}
          path: sbom-${{{{ matrix.name }}}}.spdx.json
          if-no-files-found: error
      - name: Vulnerability scan (Trivy)
        id: trivy
        uses: {trivy}
        with:
          image-ref: ${{{{ env.IMAGE }}}}
          format: sarif
          output: trivy-${{{{ matrix.name }}}}.sarif
          severity: {severity}
          limit-severities-for-sarif: true
          ignore-unfixed: {ignore_unfixed}
          exit-code: "1"
      - name: Upload to code scanning
        if: ${{{{ !cancelled() && (steps.trivy.outcome == 'success' || steps.trivy.outcome == 'failure') }}}}
        uses: {upload_sarif}
        with:
          sarif_file: trivy-${{{{ matrix.name }}}}.sarif
          category: trivy-${{{{ matrix.name }}}}
"""
_HARDENING = """
  hardening:
    name: Hardening has not regressed (hardener check)
    runs-on: ubuntu-latest
    steps:
      - uses: {checkout}
        with:
          persist-credentials: false
      - name: hardener check
        uses: {action} # hardener's own action, pinned to a commit
        with:
          command: check
          upload-sarif: "false"
"""
_NO_HARDENING = """
  # No `hardener check` job: set [tool.hardener.add-ci-security-gate] action =
  # "<owner>/<repo>@<commit sha>" (hardener's own GitHub Action, pinned) to add one.
"""
_ENTRY = """\
          - name: {name}
            dockerfile: {dockerfile}
            context: {context}
            args: {args}
            target: {target}"""


def render(header: str, gate: Gate) -> str:
    """The workflow text."""
    binary = data()["binaries"]["gitleaks"]
    matrix = "\n".join(
        _ENTRY.format(name=json.dumps(name), dockerfile=json.dumps(i.dockerfile), context=json.dumps(i.context),
                      args=json.dumps("\n".join(f"{k}={v}" for k, v in i.args)), target=json.dumps(i.target or ""))
        for name, i in zip(slugs(list(gate.images)), gate.images, strict=True)
    )
    hardening = (_HARDENING.format(checkout=uses("checkout"), action=gate.hardener_action)
                 if gate.hardener_action else _NO_HARDENING)
    return _HEAD.format(
        header=header, matrix=matrix, skipped=_skipped(gate.skipped), hardening=hardening,
        hardening_text=", and keeps the Dockerfile hardening from regressing" if gate.hardener_action else "",
        branches=json.dumps(list(gate.branches)), severity=json.dumps(gate.severity), severity_text=gate.severity,
        ignore_unfixed="true" if gate.ignore_unfixed else "false",
        gitleaks_version=binary["version"], gitleaks_url=json.dumps(binary["url"]),
        gitleaks_sha256=json.dumps(binary["sha256"]),
        checkout=uses("checkout"), sbom=uses("sbom"), upload_artifact=uses("upload-artifact"),
        trivy=uses("trivy"), upload_sarif=uses("upload-sarif"),
    )


def _skipped(skipped: tuple[tuple[Image, str], ...]) -> str:
    """YAML comments naming the images a fresh checkout cannot build, and why."""
    if not skipped:
        return ""
    lines = ["        # Not built here: these need a step that runs first (build it, then add the entry):"]
    lines += [f"        #   {one_line(i.dockerfile)} (context {one_line(i.context)}): {one_line(why)}"
              for i, why in skipped]
    return "\n".join(lines) + "\n"


def one_line(text: str) -> str:
    return re.sub(r"[\r\n\x00-\x1f]+", " ", text)
