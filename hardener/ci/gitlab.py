"""add-ci-security-gate for GitLab CI: a companion file of jobs, included from ``.gitlab-ci.yml``.

The jobs go to ``.gitlab/ci/container-security.yml``; ``.gitlab-ci.yml`` gains one
``include: - local: …`` entry spliced into the user's text: its bytes stay (a string or
mapping ``include:`` becomes a list by adding only a dash and whitespace). The companion
never defines ``stages``/``workflow``/``default`` (an included file's keys would override or
be overridden by the user's), picks a stage the pipeline has, and opts out of the user's
``default:`` and global ``variables:`` so a ``before_script`` meant for the app cannot run
inside the scanner images.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from hardener.ci.github import one_line
from hardener.ci.images import Image, slugs
from hardener.model import FileWrite

if TYPE_CHECKING:
    from ruamel.yaml.nodes import Node

    from hardener.compose.doc import ComposeDoc
    from hardener.context import Context
    from hardener.edits import Edit

GITLAB_CI = Path(".gitlab-ci.yml")
COMPANION = Path(".gitlab/ci/container-security.yml")
# Pinned by version tag: hardener's knowledge base and lock hold no digest for these images.
TOOL_IMAGES = {
    "gitleaks": "zricethezav/gitleaks:v8.30.1",
    "trivy": "aquasec/trivy:0.70.0",
    "buildah": "quay.io/buildah/stable:v1.43.4",
    "python": "python:3.12-slim",
}
# A pipeline that mentions one of these already scans images or secrets: reported, not doubled.
SCANNERS = re.compile(r"trivy|grype|gitleaks|snyk|docker[-/ ]?scout|anchore|Container-Scanning"
                      r"|container_scanning|Secret-Detection", re.IGNORECASE)


class Plan(NamedTuple):
    problem: str | None
    writes: tuple[FileWrite, ...] = ()


def uses_gitlab(root: Path) -> bool:
    """GitLab CI is the repository's CI: ``.gitlab-ci.yml`` at the root and no ``.github``."""
    return (root / GITLAB_CI).is_file() and not (root / ".github").exists()


def usable(images: list[Image]) -> tuple[list[Image], list[str]]:
    """GitLab expands ``$`` in job variables: such paths are left out, with the reason."""
    ok = [i for i in images if "$" not in i.dockerfile + i.context]
    return ok, [f"{i.dockerfile} (a `$` in its path would be expanded by GitLab)" for i in images if i not in ok]


def plan(ctx: Context, images: list[Image], options: dict[str, object], header: str) -> Plan:
    """What to write: the companion (unless ours is there) and the include (unless present)."""
    from hardener.compose.doc import ComposeDoc
    from hardener.errors import BadInput

    main_path, companion_path = ctx.root / GITLAB_CI, ctx.root / COMPANION
    raw = ctx.files.read(main_path) or b""
    current = ctx.files.read(companion_path)
    ours = current is not None and header.encode() in current
    if current is not None and not ours:
        return Plan(f"{COMPANION.as_posix()} exists and was not written by hardener; not replaced")
    try:
        doc = ComposeDoc.load(raw, GITLAB_CI.as_posix())
    except BadInput as err:
        return Plan(f"{GITLAB_CI.as_posix()} does not parse ({err.message}); nothing added")
    problem = None if ours else _already_scanned(ctx, doc) or _clash(doc)
    if problem:
        return Plan(problem)
    writes: list[FileWrite] = []
    if not ours and images:
        content = render(header, images, options, _stage(doc))
        writes.append(FileWrite(companion_path, content.encode(), 0o644))
    if (ours or images) and not _includes_companion(doc):
        try:
            writes.append(FileWrite(main_path, doc.source.encode(add_include(doc))))
        except ValueError as err:
            return Plan(f"cannot add the include to {GITLAB_CI.as_posix()}: {err}")
    return Plan(None, tuple(writes))


# ---------------------------------------------------------------- reading .gitlab-ci.yml


def _root(doc: ComposeDoc) -> Node | None:
    """The configuration: the last YAML document (a first one may be the ``spec:`` header)."""
    return doc.documents[-1] if doc.documents else None


def _local_includes(doc: ComposeDoc) -> list[str]:
    """The include entries that may name a file of this repository: strings and ``local:``."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    from hardener.compose.splice import mapping_own

    node = mapping_own(_root(doc), "include")
    items = node.value if isinstance(node, SequenceNode) else [node] if node is not None else []
    out: list[str] = []
    for item in items:
        if isinstance(item, ScalarNode):
            out.append(str(item.value))
        elif isinstance(item, MappingNode) and isinstance(local := mapping_own(item, "local"), ScalarNode):
            out.append(str(local.value))
    return out


def _includes_companion(doc: ComposeDoc) -> bool:
    return any(i.strip().lstrip("/") == COMPANION.as_posix() for i in _local_includes(doc))


def _already_scanned(ctx: Context, doc: ComposeDoc) -> str | None:
    """The file that already runs a scanner: ``.gitlab-ci.yml`` or one of its local includes."""
    if SCANNERS.search(doc.text):
        return f"already scanned by {GITLAB_CI.as_posix()}"
    for item in _local_includes(doc):
        path = item.strip().lstrip("/")
        if "://" in item or "$" in item or not path.endswith((".yml", ".yaml")):
            continue
        text = ctx.files.read(ctx.root / path)
        if text is not None and SCANNERS.search(text.decode("utf-8", "replace")):
            return f"already scanned by {path} (included from {GITLAB_CI.as_posix()})"
    return None


def _clash(doc: ComposeDoc) -> str | None:
    from ruamel.yaml.nodes import MappingNode

    root = _root(doc)
    keys = [str(k.value) for k, _v in root.value] if isinstance(root, MappingNode) else []
    taken = [k for k in keys if k.lstrip(".").startswith("hardener-")]
    return f"{GITLAB_CI.as_posix()} already defines {taken[0]}; the generated jobs would clash" if taken else None


def _stage(doc: ComposeDoc) -> str:
    """``test`` when the pipeline has it (GitLab's default stages do), else its first stage."""
    from ruamel.yaml.nodes import ScalarNode, SequenceNode

    from hardener.compose.splice import mapping_own

    stages = mapping_own(_root(doc), "stages")
    names = [str(s.value) for s in stages.value if isinstance(s, ScalarNode)] if isinstance(stages, SequenceNode) else []
    names = [n for n in names if n not in (".pre", ".post")]
    return "test" if not names or "test" in names else names[0]


# ---------------------------------------------------------------- the include, spliced in


def add_include(doc: ComposeDoc) -> str:
    """``doc.text`` with ``- local: <companion>`` added to the top-level ``include:``.

    Raises ValueError (the refusal's reason) for layouts it will not rewrite.
    """
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    from hardener.compose.splice import is_flow, mapping_own
    from hardener.edits import apply_edits

    root = _root(doc)
    if not isinstance(root, MappingNode) or is_flow(root) or not root.value:
        raise ValueError("its top level is not a block mapping")
    node = mapping_own(root, "include")
    entry = f"local: {COMPANION.as_posix()}"
    if node is not None and not str(node.tag).startswith("tag:yaml.org,2002:"):
        raise ValueError(f"`include:` is tagged {node.tag}")
    if node is None:
        edits = [_append_top_level(doc, root, "include", entry)]
    elif isinstance(node, SequenceNode):
        edits = [_append_item(doc, node, entry)]
    elif isinstance(node, ScalarNode):
        edits = [_scalar_to_list(doc, root, node, entry)]
    elif isinstance(node, MappingNode):
        edits = _mapping_to_list(doc, node, entry)
    else:
        raise ValueError("`include:` has a form hardener does not know")
    return apply_edits(doc.text, edits)


def _lines_at(doc: ComposeDoc, pos: int, lines: list[str]) -> Edit:
    """Whole lines inserted at a line start; a missing final newline stays missing."""
    from hardener.edits import Edit

    body = "".join(line + doc.newline for line in lines)
    if pos == len(doc.text) and doc.text and not doc.text.endswith("\n"):
        body = doc.newline + body[: -len(doc.newline)]
    return Edit(pos, pos, body)


def _append_top_level(doc: ComposeDoc, root: Node, key: str, entry: str) -> Edit:
    """``key:`` with one list item, after everything else in the file (a blank line before)."""
    from hardener.compose.splice import content_end

    if doc.column_of(root.value[0][0].start_mark.index) != 0:
        raise ValueError("its top-level keys are indented")
    tail = doc.text[content_end(doc, root):]
    if re.sub(r"#[^\n]*", "", tail).strip():
        raise ValueError("text follows the configuration (a `...` or another document)")
    lines = [f"{key}:", f"{' ' * doc.sequence_offset}- {entry}"]
    text = doc.text
    last_line = (text[:-1] if text.endswith("\n") else text).rsplit("\n", 1)[-1]
    return _lines_at(doc, len(text), ([""] if last_line.strip() else []) + lines)


def _append_item(doc: ComposeDoc, seq: Node, entry: str) -> Edit:
    """``entry`` as the last item of a block list, or ``{entry}`` of a flow list."""
    from hardener.compose.splice import block_insertion_point, is_flow
    from hardener.edits import Edit

    if is_flow(seq):
        close = seq.end_mark.index - 1
        last = doc.last_token_before(close)
        if doc.text[close] != "]" or last is None:
            raise ValueError("a flow list without its closing bracket")
        separator = "" if last.kind == "FlowSequenceStartToken" else " " if last.kind == "FlowEntryToken" else ", "
        return Edit(last.end, last.end, f"{separator}{{{entry}}}")
    dash = doc.first_token_from(seq.start_mark.index, "BlockEntryToken")
    if dash is None or not seq.value:
        raise ValueError("an empty `include:` list")
    column = doc.column_of(dash.start)
    return _lines_at(doc, block_insertion_point(doc, seq, column), [f"{' ' * column}- {entry}"])


def _scalar_to_list(doc: ComposeDoc, root: Node, node: Node, entry: str) -> Edit:
    """``include: a.yml`` → a block list holding ``a.yml`` (its text as written) and ``entry``."""
    from hardener.edits import Edit

    key = next(k for k, _v in root.value if k.value == "include")
    last = doc.last_token_before(node.end_mark.index)
    if last is None or last.kind != "ScalarToken" or last.style in ("|", ">") or last.start < key.end_mark.index:
        raise ValueError("`include:` is an alias, a block scalar or empty")
    gap = re.fullmatch(r"[ \t]*:[ \t]*", doc.text[key.end_mark.index : last.start])
    value = doc.text[last.start : last.end]
    if gap is None or "\n" in value:
        raise ValueError("`include:` has a comment, tag, anchor or line break before its value")
    pad, nl = " " * (doc.column_of(key.start_mark.index) + doc.sequence_offset), doc.newline
    start = key.end_mark.index + gap.group().index(":") + 1
    return Edit(start, last.end, f"{nl}{pad}- {value}{nl}{pad}- {entry}")


def _mapping_to_list(doc: ComposeDoc, node: Node, entry: str) -> list[Edit]:
    """``include: {local: a}`` / a block mapping → a list of it and ``entry``; the block
    mapping's lines move two columns right under a new dash (only whitespace is added)."""
    from hardener.compose.splice import block_insertion_point, content_end, is_flow
    from hardener.edits import Edit

    start, end = node.start_mark.index, content_end(doc, node)
    if is_flow(node):
        if doc.text[start] != "{":
            raise ValueError("a flow mapping without its opening brace")
        return [Edit(start, start, "["), Edit(end, end, f", {{{entry}}}]")]
    first = node.value[0][0].start_mark.index
    column = doc.column_of(first)
    if column == 0 or doc.text[first - column : first].strip():
        raise ValueError("`include:` is a mapping that does not start on its own line")
    if any(t.style in ("|", ">") for t in doc.tokens if start <= t.start < end):
        raise ValueError("`include:` holds a block scalar; re-indenting it could change it")
    edits = [Edit(first, first, "- ")]
    for line in range(doc.line_of(first) + 1, doc.line_of(end - 1) + 1):
        at = doc.line_starts[line - 1]
        if doc.text[at : doc.text.find("\n", at) if "\n" in doc.text[at:] else len(doc.text)].strip():
            edits.append(Edit(at, at, "  "))
    edits.append(_lines_at(doc, block_insertion_point(doc, node, column), [f"{' ' * column}- {entry}"]))
    return edits


# ---------------------------------------------------------------- the companion text

_TEMPLATE = """\
{header}
# Builds every image of this repository, keeps a CycloneDX SBOM of each, fails on {severity}
# vulnerabilities and leaked secrets{hardening_text}.
# Included from .gitlab-ci.yml. The tool images are pinned by version tag (hardener knows no
# digest for them): pin them by digest (image@sha256:...) where your policy requires it.
# Images are built with Buildah (no Docker daemon, no privileged dind service); override
# .hardener-build if your runners build images another way.

.hardener-job:
  stage: {stage}
  interruptible: true
  inherit:
    default: false # a default before_script is meant for the app, not for these images
    variables: false
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH

hardener-secrets:
  extends: .hardener-job
  image:
    name: {gitleaks}
    entrypoint: [""]
  variables:
    GIT_DEPTH: "0" # the whole history: a secret removed later is still leaked
  script:
    - git config --global --add safe.directory "$CI_PROJECT_DIR"
    - gitleaks git --redact --no-banner --verbose . # --redact: no secret reaches the job log

{check}
.hardener-build:
  extends: .hardener-job
  image: {buildah}
  variables:
    STORAGE_DRIVER: vfs
    BUILDAH_ISOLATION: chroot
  script:
    - |
      set -eu
      set -- --file "$DOCKERFILE" --tag "hardener-ci/$IMAGE_NAME:$CI_COMMIT_SHORT_SHA"
      if [ -n "${{BUILD_TARGET:-}}" ]; then set -- "$@" --target "$BUILD_TARGET"; fi
      while IFS= read -r arg; do
        if [ -n "$arg" ]; then set -- "$@" --build-arg "$arg"; fi
      done <<EOF
      ${{BUILD_ARGS:-}}
      EOF
      buildah build "$@" "$BUILD_CONTEXT"
    - buildah push "hardener-ci/$IMAGE_NAME:$CI_COMMIT_SHORT_SHA" docker-archive:image.tar
  artifacts:
    paths:
      - image.tar
    expire_in: 1 hour

.hardener-scan:
  extends: .hardener-job
  image:
    name: {trivy}
    entrypoint: [""]
  variables:
    TRIVY_NO_PROGRESS: "true"
    TRIVY_CACHE_DIR: .trivycache
    TRIVY_SEVERITY: {severity_json}
    TRIVY_IGNORE_UNFIXED: "{ignore_unfixed}"
  cache:
    key: hardener-trivy
    paths:
      - .trivycache/
  script:
    - trivy image --input image.tar --format cyclonedx --output sbom.cdx.json
    - trivy image --input image.tar --format json --output trivy-report.json
    - trivy convert --exit-code 1 trivy-report.json
  artifacts:
    when: always
    paths:
      - sbom.cdx.json
      - trivy-report.json
    reports:
      cyclonedx: sbom.cdx.json
    expire_in: 90 days
{jobs}"""
_CHECK = """hardener-check:
  extends: .hardener-job
  image: {python}
  script: # hardener from its repository at a pinned commit, never a package name it is not published under
    - pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore {spec}
    - hardener check .
"""
_NO_CHECK = """# No hardener-check job: set [tool.hardener.add-ci-security-gate] action =
# "<owner>/<repo>@<commit sha>" to install hardener from that repository at that commit.
"""
_IMAGE_JOBS = """
hardener-build-{name}:
  extends: .hardener-build
  variables:
    DOCKERFILE: {dockerfile}
    BUILD_CONTEXT: {context}
    IMAGE_NAME: {name}
    BUILD_ARGS:
      value: {args}
      expand: false # a `$` in a value is the value's, not a variable
    BUILD_TARGET: {target}

hardener-scan-{name}:
  extends: .hardener-scan
  needs:
    - hardener-build-{name}
"""


def git_spec(action: str) -> str:
    """pip's requirement for hardener's repository at the pinned commit of ``owner/repo[/path]@sha``."""
    repo, _, sha = action.partition("@")
    owner_repo = "/".join(repo.split("/")[:2])
    return f"hardener @ git+https://github.com/{owner_repo}.git@{sha}"


def render(header: str, images: list[Image], options: dict[str, object], stage: str) -> str:
    """The companion; repository paths are JSON-quoted (valid YAML double-quoted scalars)."""
    jobs = "".join(
        _IMAGE_JOBS.format(name=name, dockerfile=json.dumps(i.dockerfile), context=json.dumps(i.context),
                           args=json.dumps("\n".join(f"{k}={v}" for k, v in i.args)),
                           target=json.dumps(i.target or ""))
        for name, i in zip(slugs(images), images, strict=True)
    )
    action = options.get("action")
    check = _CHECK.format(python=TOOL_IMAGES["python"], spec=json.dumps(git_spec(str(action)))) if action else _NO_CHECK
    skipped: list[tuple[Image, str]] = options.get("skipped") or []  # type: ignore[assignment]  # the transform puts (image, why) pairs here
    if skipped:
        jobs += "\n# Not built here: these need a step that runs first (build it, then add the jobs):\n" + "".join(
            f"#   {one_line(i.dockerfile)}: {one_line(why)}\n"
            for i, why in skipped)
    return _TEMPLATE.format(
        header=header, stage=json.dumps(stage) if not re.fullmatch(r"[\w-]+", stage) else stage,
        check=check, jobs=jobs,
        hardening_text=", and keeps the Dockerfile hardening from regressing" if action else "", severity=options["severity"],
        severity_json=json.dumps(str(options["severity"])),
        ignore_unfixed="true" if options["ignore-unfixed"] else "false",
        **TOOL_IMAGES,
    )
