"""The ``docker run`` lines of a repository's own scripts and docs, linked to the Dockerfile
whose image they run.

A script that builds an image with ``docker build -t NAME -f path/Dockerfile`` and then runs
``docker run -v "$PWD/out:/out" NAME`` bind-mounts a host directory exactly as a Compose
service would: a container made non-root cannot write it (temporalio/docker-compose's
tls/run-tls.sh copies a certificate into ``${PWD}/.pki``). The link is the image name: a run
counts only when the same repository builds that name from the Dockerfile. A run that sets
its own ``--user`` does not depend on the Dockerfile's user and is left out.
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hardener.compose.listen import BindMount

_VALUED = {  # docker run / build options that take a value (the next word when not --opt=value)
    "-a", "--attach", "--add-host", "--blkio-weight", "--build-arg", "--cap-add", "--cap-drop", "--cgroup-parent",
    "--cgroupns", "--cidfile", "--cpu-period", "--cpu-quota", "--cpu-shares", "-c", "--cpus", "--cpuset-cpus",
    "--cache-from", "--cache-to", "--device", "--dns", "--dns-option", "--dns-search", "-e", "--env", "--env-file",
    "--entrypoint", "--expose", "-f", "--file", "--gpus", "--group-add", "--health-cmd", "--health-interval",
    "--health-retries", "--health-timeout", "-h", "--hostname", "--ip", "--ipc", "--isolation", "-l", "--label",
    "--label-file", "--link", "--log-driver", "--log-opt", "-m", "--memory", "--memory-swap", "--mount", "--name",
    "--network", "--net", "--network-alias", "--output", "-o", "-p", "--publish", "--pid", "--platform", "--pull",
    "--restart", "--runtime", "--secret", "--security-opt", "--shm-size", "--ssh", "--stop-signal",
    "--stop-timeout", "--storage-opt", "--sysctl", "--tag", "--target", "--tmpfs", "--ulimit", "-u",
    "--user", "--userns", "--uts", "-v", "--volume", "--volumes-from", "-w", "--workdir", "--iidfile",
    "--progress", "--builder",
}
_BUILD_VALUED = _VALUED | {"-t"}  # -t is --tag to build, a tty (no value) to run
_SEPARATORS = {"&&", "||", ";", "|", "&"}
_ENGINES = ("docker", "podman")
_HOST_PATH = re.compile(r"^(?:/|\.|~|\$)")


@dataclass(frozen=True)
class Run:
    """One ``docker run`` of an image the repository builds: where it is and its bind mounts."""

    where: str  # "tls/run-tls.sh:9"
    image: str
    binds: tuple[BindMount, ...]


def built_names(root: Path, dockerfile: Path) -> set[str]:
    """The image names (``name:tag``, ``:latest`` added) ``docker build -t`` lines of the
    repository give the image built from ``dockerfile``."""
    me = os.path.realpath(dockerfile)
    return {name for built, tags in _all_builds(root) if built == me for name in tags}


@functools.lru_cache(maxsize=16)
def _all_builds(root: Path) -> tuple[tuple[str, frozenset[str]], ...]:
    """(Dockerfile real path, names) of every ``docker build -t`` of the repository, read once
    (the command lines are cached the same way, per root, by project_find)."""
    from hardener.compose.project_find import command_lines

    found = []
    for path, _where, line in command_lines(root):
        for words in _invocations(line, "build"):
            built = _build(words, path.parent, root)
            if built is not None:
                found.append((built[0], frozenset(built[1])))
    return tuple(found)


def normal_name(image: str) -> str:
    """One spelling per image: ``name``, ``name:latest`` and ``docker.io/library/name:latest``
    are the same (oci/imageref.py); a reference that does not parse stays as written."""
    from hardener.oci.imageref import BadReference, parse

    try:
        ref = parse(image)
    except BadReference:
        return image
    return f"{ref.registry}/{ref.repository}:{ref.tag or 'latest'}" + (f"@{ref.digest}" if ref.digest else "")


def runs_of(root: Path, dockerfile: Path) -> list[Run]:
    """The ``docker run`` lines (without ``--user``) of images built from ``dockerfile``."""
    from hardener.compose.project_find import command_lines

    names = built_names(root, dockerfile)
    if not names:
        return []
    lines = command_lines(root)
    found = []
    for _path, where, line in lines:
        for words in _invocations(line, "run"):
            run = _run(words, where)
            if run is not None and normal_name(run.image) in names and run.binds:
                found.append(run)
    return found


def _invocations(line: str, verb: str) -> list[list[str]]:
    """The argument lists of every ``docker VERB`` (``docker buildx build``, ``podman VERB``) in ``line``."""
    if verb not in line:
        return []
    from hardener.compose.project_find import shell_words

    words = shell_words(line)
    if words is None:
        return []
    out = []
    for i, word in enumerate(words):
        if os.path.basename(word) not in _ENGINES:
            continue
        rest = words[i + 1:]
        if rest[:2] == ["buildx", "build"] or rest[:2] == ["image", "build"] or rest[:2] == ["container", "run"]:
            rest = rest[1:]
        if rest[:1] == [verb]:
            end = next((j for j, w in enumerate(rest) if w in _SEPARATORS), len(rest))
            out.append(rest[1:end])
    return out


def _options(words: list[str], valued: set[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """(option, value) pairs and the positional words, in order."""
    options: list[tuple[str, str]] = []
    positional: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if positional or not word.startswith("-") or word == "-":
            positional.append(word)
        elif "=" in word and word.startswith("--"):
            name, _, value = word.partition("=")
            options.append((name, value))
        elif word in valued:
            options.append((word, words[i + 1] if i + 1 < len(words) else ""))
            i += 1
        elif re.fullmatch(r"-[a-zA-Z]{2,}", word) and "-" + word[-1] in valued:
            options.append(("-" + word[-1], words[i + 1] if i + 1 < len(words) else ""))  # -it -v x, -dp 80:80
            i += 1
        else:
            options.append((word, ""))
        i += 1
    return options, positional


def _build(words: list[str], here: Path, root: Path) -> tuple[str, set[str]] | None:
    """(the Dockerfile's real path, the names it is tagged with) of one ``docker build``."""
    options, positional = _options(words, _BUILD_VALUED)
    tags = {normal_name(v) for k, v in options if k in ("-t", "--tag") and v and "$" not in v}
    if not tags or not positional:
        return None
    context = _path(positional[0], here, root)
    named = next((v for k, v in reversed(options) if k in ("-f", "--file")), None)
    if context is None:
        return None
    if named is None:
        return os.path.realpath(context / "Dockerfile"), tags
    dockerfile = _path(named, here, root, context)
    return (os.path.realpath(dockerfile), tags) if dockerfile is not None else None


def _path(word: str, here: Path, root: Path, context: Path | None = None) -> Path | None:
    """A path a command names: ``$PWD``/``$(pwd)`` is the folder it runs in (the repository
    root for docs and CI, the script's folder or the root for scripts); other variables are
    not known."""
    word = re.sub(r"^(\$\{PWD\}|\$PWD|\$\(pwd\))", ".", word)
    if "$" in word or re.match(r"[a-z][a-z0-9+.-]*://|git@", word):
        return None
    bases = [here, root] if context is None else [context, here, root]
    for base in bases:
        path = Path(os.path.normpath(base / word))
        if path.exists():
            return path
    return None


def _run(words: list[str], where: str) -> Run | None:
    options, positional = _options(words, _VALUED)
    if not positional or any(k in ("-u", "--user") for k, _ in options):
        return None
    binds: list[BindMount] = []
    for key, value in options:
        bind = _volume(value) if key in ("-v", "--volume") else _mount(value) if key == "--mount" else None
        if bind is not None:
            binds.append(bind)
    return Run(where, positional[0], tuple(binds))


def _volume(value: str) -> BindMount | None:
    """``-v SOURCE:TARGET[:ro]`` when SOURCE is a host path (a plain name is a named volume)."""
    from hardener.compose.listen import BindMount

    parts = value.split(":")
    if len(parts) < 2 or not _HOST_PATH.match(parts[0]):
        return None
    return BindMount(parts[0], parts[1], read_only="ro" in (parts[2].split(",") if len(parts) > 2 else []))


def _mount(value: str) -> BindMount | None:
    from hardener.compose.listen import BindMount

    fields = dict(f.partition("=")[::2] for f in value.split(","))
    if fields.get("type") != "bind":
        return None
    source = fields.get("source") or fields.get("src")
    target = fields.get("target") or fields.get("destination") or fields.get("dst")
    if not source or not target:
        return None
    read_only = "readonly" in fields or "ro" in fields
    return BindMount(source, target, read_only=read_only and fields.get("readonly", fields.get("ro", "")) != "false")
