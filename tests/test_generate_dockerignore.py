"""HD303 generate-dockerignore: what it adds, what it keeps out, and the corpus guarantee."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import corpus_cases

from hardener import repo_facts
from hardener.context import Context
from hardener.dockerfile.doc import DockerfileDoc
from hardener.dockerfile.dockerignore import Matcher
from hardener.engine import Options, process
from hardener.model import Refusal
from hardener.transforms.generate_dockerignore import GenerateDockerignore


def make_tree(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content) if not rel.endswith("/") else path.mkdir(exist_ok=True)


def run(root: Path, name: str = "Dockerfile") -> tuple[list[str], list[str], Context]:
    """(added patterns, refusal reasons, context) of one HD303 run on root/name."""
    ctx = Context(root).for_file(root / name)
    raw = (root / name).read_bytes()
    result = process(name, "dockerfile", raw, [GenerateDockerignore()], ctx, Options())
    added: list[str] = []
    for write in result.companions:
        old = (write.path.read_bytes() if write.path.exists() else b"").decode()
        added += [ln for ln in write.content.decode().splitlines()[len(old.splitlines()):] if ln and not ln.startswith("#")]
    return added, [r.reason for r in result.refusals], ctx


NODE = "FROM node:20\nWORKDIR /app\nCOPY . .\n"  # no CMD: narrow-copy cannot narrow it, so it takes every file
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"
SECRET_ENV = "DB_PASSWORD=hunter2\n"
CASES = [
    pytest.param({"Dockerfile": NODE, ".git/HEAD": "x"}, ".git", True, id="excludes-git"),
    pytest.param({"Dockerfile": NODE + "RUN git describe > v\n", ".git/HEAD": "x"}, ".git", False, id="keeps-git-a-run-uses"),
    pytest.param({"Dockerfile": NODE + "RUN npm ci\n", "node_modules/a/x.js": ""}, "**/node_modules", True, id="node-modules-reinstalled"),
    pytest.param({"Dockerfile": NODE, "node_modules/a/x.js": ""}, "**/node_modules", False, id="node-modules-not-reinstalled"),
    pytest.param({"Dockerfile": NODE + "RUN npm ci && npm run build\n", "dist/a.js": ""}, "dist", True, id="dist-built-inside"),
    pytest.param({"Dockerfile": NODE, "dist/a.js": ""}, "dist", False, id="dist-not-built-inside"),
    pytest.param({"Dockerfile": NODE + "RUN npm run build\nCOPY dist/ /srv/\n", "dist/a.js": ""}, "dist", False, id="dist-named-by-copy"),
    pytest.param({"Dockerfile": NODE, ".env": SECRET_ENV}, "**/.env", True, id="dotenv"),
    pytest.param({"Dockerfile": NODE, ".env": "API_URL=https://api.example.com\n"}, "**/.env", False, id="public-dotenv-kept"),
    pytest.param({"Dockerfile": NODE, ".env.example": "A="}, "**/.env.example", False, id="dotenv-template-kept"),
    pytest.param({"Dockerfile": NODE + "CMD cat /app/.env\n", ".env": SECRET_ENV}, "**/.env", False, id="dotenv-mentioned-by-cmd"),
    pytest.param({"Dockerfile": NODE, "a/id_rsa": KEY}, "**/id_rsa*", True, id="ssh-key"),
    pytest.param({"Dockerfile": NODE, "a/id_rsa.pub": "ssh-ed25519 AAAAC3 me\n"}, "**/id_rsa*", False, id="ssh-public-key-kept"),
    pytest.param({"Dockerfile": NODE, "k.pem": KEY}, "**/*.pem", True, id="pem"),
    pytest.param({"Dockerfile": NODE, "ca.pem": CERT}, "**/*.pem", False, id="ca-bundle-kept"),
    pytest.param({"Dockerfile": NODE, "ca.pem": CERT, "k.pem": KEY}, "k.pem", True, id="key-beside-ca-bundle-alone"),
    pytest.param({"Dockerfile": NODE, "ca.pem": CERT, "k.pem": KEY}, "**/*.pem", False, id="key-beside-ca-bundle-not-wide"),
    pytest.param({"Dockerfile": "FROM x\nCOPY k.pem /k/\n", "k.pem": KEY}, "**/*.pem", False, id="key-copied-by-name"),
    pytest.param({"Dockerfile": "FROM x\nARG DIR=conf\nCOPY ${DIR}/ /etc/\n", "conf/a.pem": "", "b.pem": ""}, "**/*.pem", False, id="arg-default-source-needs-pem"),
    pytest.param({"Dockerfile": "FROM x\nARG DIR=conf\nCOPY ${DIR}/ /etc/\n", "conf/a.pem": "", "b.pem": ""}, "*.pem", True, id="arg-default-source-root-form"),
    pytest.param({"Dockerfile": "FROM x\nCOPY $UNKNOWN /etc/\n", "b.pem": ""}, "**/*.pem", False, id="unknown-variable-needs-everything"),
    pytest.param({"Dockerfile": "FROM x\nRUN --mount=type=bind,source=tls.key,target=/k true\n", "tls.key": ""}, "**/*.key", False, id="run-bind-mount-source"),
    pytest.param({"Dockerfile": "FROM x AS b\nFROM y\nCOPY --from=b /app/tls.key /k\n", "tls.key": ""}, "**/*.key", True, id="copy-from-stage-is-not-context"),
    pytest.param({"Dockerfile": "FROM x\nCOPY *.key /k/\n", "tls.key": ""}, "**/*.key", False, id="wildcard-source"),
    pytest.param({"Dockerfile": NODE, ".env": SECRET_ENV, "compose.yaml": "services: {}\n"}, "compose.yaml", True, id="compose-file"),
    pytest.param({"Dockerfile": NODE, "compose.yaml": "services: {}\n"}, "compose.yaml", False, id="docker-files-alone-are-not-worth-a-file"),
    pytest.param({"Dockerfile": NODE}, "coverage", False, id="only-what-exists"),
    pytest.param({"Dockerfile": NODE, ".DS_Store": "", ".idea/x": ""}, ".idea", True, id="editor-junk"),
]


@pytest.mark.parametrize(("files", "pattern", "added"), CASES)
def test_patterns(tmp_path: Path, files: dict[str, str], pattern: str, added: bool) -> None:
    make_tree(tmp_path, files)
    assert (pattern in run(tmp_path)[0]) is added


def test_other_dockerfile_of_the_context_is_honoured(tmp_path: Path) -> None:
    make_tree(tmp_path, {"Dockerfile": NODE, "Dockerfile.dev": "FROM x\nCOPY .env /app/.env\n", ".env": "A=1"})
    added, refusals, _ = run(tmp_path)
    assert "**/.env" not in added and any("line 2 of Dockerfile.dev" in r for r in refusals)


def test_user_exception_is_not_overridden(tmp_path: Path) -> None:
    make_tree(tmp_path, {"Dockerfile": NODE, ".env.ci": SECRET_ENV, ".dockerignore": "!.env.ci\n"})
    added, refusals, _ = run(tmp_path)
    assert "**/.env.ci" not in added and any("re-includes .env.ci" in r for r in refusals)


def test_per_dockerfile_ignore_file_is_the_target(tmp_path: Path) -> None:
    make_tree(tmp_path, {"Dockerfile": NODE, ".env": SECRET_ENV, "Dockerfile.dockerignore": "x\n"})
    ctx = Context(tmp_path).for_file(tmp_path / "Dockerfile")
    result = process("Dockerfile", "dockerfile", NODE.encode(), [GenerateDockerignore()], ctx, Options())
    assert [w.path.name for w in result.companions] == ["Dockerfile.dockerignore"]
    assert result.companions[0].content.startswith(b"x\n\n# added by hardener")


def test_bad_existing_pattern_refuses(tmp_path: Path) -> None:
    make_tree(tmp_path, {"Dockerfile": NODE, ".env": "", ".dockerignore": "[\n"})
    added, refusals, _ = run(tmp_path)
    assert not added and "Docker rejects" in refusals[0]


def test_two_dockerfiles_extend_one_file_and_second_run_is_a_noop(tmp_path: Path) -> None:
    make_tree(tmp_path, {"Dockerfile": NODE, "b.Dockerfile": NODE, ".env": SECRET_ENV, ".git/HEAD": ""})
    added, _, ctx = run(tmp_path)
    assert added == [".git", "**/.env", "Dockerfile", "b.Dockerfile"]
    again = process("b.Dockerfile", "dockerfile", NODE.encode(), [GenerateDockerignore()], ctx.for_file(tmp_path / "b.Dockerfile"), Options())
    assert not again.changed  # sees the first file's write through ctx.files


def test_existing_bytes_survive(tmp_path: Path) -> None:
    original = b"# mine\r\n  node_modules  \r\n*.md\r\n!README.md"
    make_tree(tmp_path, {"Dockerfile": NODE, ".env": SECRET_ENV})
    (tmp_path / ".dockerignore").write_bytes(original)
    ctx = Context(tmp_path).for_file(tmp_path / "Dockerfile")
    result = process("Dockerfile", "dockerfile", NODE.encode(), [GenerateDockerignore()], ctx, Options())
    content = result.companions[0].content
    assert content.startswith(original + b"\r\n\r\n# added by hardener") and content.endswith(b"**/.env\r\nDockerfile\r\n")


def _corpus_dockerfiles() -> list[tuple[str, Path]]:
    return list(corpus_cases("dockerfile"))


JUNK = (".git/HEAD", ".env", ".env.local", "node_modules/x/index.js", "server.key", "certs/a.pem",
        "dist/app.js", "target/app.jar", "__pycache__/m.pyc", ".venv/pyvenv.cfg", "coverage/lcov.info",
        ".idea/workspace.xml", ".DS_Store", ".aws/credentials")


@pytest.mark.parametrize("junk", [pytest.param(False, id="listing"), pytest.param(True, id="listing-plus-junk")])
def test_corpus_never_excludes_a_copy_source(tmp_path: Path, junk: bool) -> None:
    """Every corpus Dockerfile in a tree of empty files built from its context listing (plus,
    in the second pass, the usual junk of a working copy, so that every pattern meets real
    COPY sources)."""
    cases = _corpus_dockerfiles()
    if not cases:
        pytest.skip("no corpus")
    counts = {"cases": 0, "changed": 0, "patterns": 0, "dropped": 0, "skipped_truncated": 0}
    for case_id, dockerfile in cases:
        meta = json.loads((dockerfile.parent / "case.json").read_text())
        if meta.get("context_listing_truncated") or not (dockerfile.parent / "context_listing.txt").exists():
            counts["skipped_truncated"] += 1
            continue
        root = tmp_path / case_id
        name = _build(root, dockerfile, meta)
        tops = {p.name for p in root.iterdir()}
        for rel in JUNK if junk else ():
            if rel.split("/")[0] not in tops:
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).touch()
        repo_facts._CACHE.clear()  # the tree was written within one mtime tick
        try:
            doc = DockerfileDoc.load(dockerfile.read_bytes(), name)
        except Exception:
            continue
        counts["cases"] += 1
        before = Matcher.from_file((root / ".dockerignore").read_bytes() if (root / ".dockerignore").exists() else b"")
        added, refusals = _run_once(root, name, doc)
        counts["changed"] += bool(added)
        counts["patterns"] += len(added)
        counts["dropped"] += sum(r.startswith("did not add") for r in refusals)
        after = Matcher(list(before_patterns(root)) + added)
        paths = repo_facts.listing(root).paths
        for path, source in repo_facts.needed_by(repo_facts.context_sources(doc), paths).items():
            assert before.excluded(path) or not after.excluded(path), (case_id, path, source.text, added)
    print(f"HD303 corpus ({'with junk' if junk else 'listing only'}):", counts)
    assert counts["cases"] > 500


def _run_once(root: Path, name: str, doc: DockerfileDoc) -> tuple[list[str], list[str]]:
    """One pass of the transform itself (the engine's judges are covered elsewhere; this is fast)."""
    ctx = Context(root).for_file(root / name)
    added: list[str] = []
    refusals: list[str] = []
    for finding in GenerateDockerignore().run(doc, ctx):
        if isinstance(finding, Refusal):
            refusals.append(finding.reason)
        else:
            text = finding.files[0].content.decode()
            added += [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    return added, refusals


def before_patterns(root: Path) -> list[str]:
    from hardener.dockerfile.dockerignore import read_patterns

    path = root / ".dockerignore"
    return read_patterns(path.read_bytes()) if path.exists() else []


def _build(root: Path, dockerfile: Path, meta: dict) -> str:
    name = meta["path"].rsplit("/", 1)[-1]
    root.mkdir(parents=True, exist_ok=True)
    for line in (dockerfile.parent / "context_listing.txt").read_text().splitlines():
        rel = line.strip()
        if not rel or rel.startswith("/") or ".." in rel.split("/"):
            continue
        path = root / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        except OSError:
            continue  # a name that is both a file and a directory in the listing
    for copied in dockerfile.parent.iterdir():  # real small context files (package.json, …)
        if copied.name not in ("case.json", "context_listing.txt", "Dockerfile") and copied.is_file():
            (root / copied.name).write_bytes(copied.read_bytes())
    (root / name).write_bytes(dockerfile.read_bytes())
    return name
