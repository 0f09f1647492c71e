"""Per change kind: what could break in this file, and the command that shows whether it did.

A reviewer asks two questions of a hardening change: what can go wrong here, and how do I
see that it did not. A rule's rationale ("running as root is risky") answers neither, so
each transform family maps to the failure it can cause and the check to run on this very
file: the build command for the Dockerfile, ``docker compose up`` of the Compose file and
the health to watch, the reachability test for a port or a network.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from hardener.output.markdown import code


@dataclass(frozen=True)
class Check:
    could_break: str  # Markdown, with the path already escaped
    verify: str


_BY_ID = {
    # (what could break, how to verify); {build}/{up}/{run}/{ps} are filled per file
    "HD101": ("the digest is today's image of the tag: later base-image fixes need a digest bump",
              "{build}, then run the app as usual"),
    "HD103": ("the digest is today's image of the tag: later fixes need a digest bump", "{up} and {ps}"),
    "HD102": ("a download that only worked without TLS checks now fails (self-signed mirror)", "{build}"),
    "HD201": ("files the app writes (caches, uploads, volumes) may be owned by root and unwritable",
              "{build}, run it and exercise a write path; check `id` in the container"),
    "HD202": ("a step that needed sudo now runs as the same user without it", "{build}"),
    "HD203": ("the final stage runs as a non-root user: writes to root-owned paths fail", "{build}, then {run}"),
    "HD205": ("a uid that differs from the named user's changes who owns the files it writes", "{build}, then "
              "{run} and check `id` in the container"),
    "HD204": ("the service runs with a non-root user: writes to root-owned volumes fail", "{up} and {ps}; "
              "exercise a write in each changed service"),
    "HD301": ("`COPY` does not unpack archives or fetch URLs; a change only where `ADD` did neither",
              "{build}"),
    "HD302": ("a secret passed as a build arg must now be given with `--secret`", "{build} with `--secret`"),
    "HD303": ("a file the build needs may now be excluded from the context", "{build}"),
    "HD304": ("a file copied into the image is now excluded from the context", "{build}, then {run}"),
    "HD305": ("a file the app reads at runtime may no longer be copied into the image",
              "{build}, then {run} and hit its main endpoint"),
    "HD401": ("the command no longer runs through a shell: `$VAR` expansion and `&&` stop working",
              "{run}; check the process gets signals (`docker stop` is quick)"),
    "HD402": ("a package that was only pulled in as a recommendation is no longer installed",
              "{build}, then {run}; look for `command not found`"),
    "HD403": ("a later step that read the apk cache finds none", "{build}"),
    "HD404": ("a later step that read the package cache finds none", "{build}"),
    "HD405": ("a later step that reused pip's cache downloads again (slower, not broken)", "{build}"),
    "HD408": ("only the last of the duplicated instructions ever took effect; nothing else changes",
              "{build}, then `docker inspect` the image's config"),
    "HD409": ("a relative WORKDIR resolved against a previous one now names the same directory explicitly",
              "{build}, then {run}"),
    "HD501": ("nothing at runtime: the author moves to a label a tool may read instead of MAINTAINER",
              "`docker inspect` the built image's labels"),
    "HD502": ("nothing at runtime: new labels only", "`docker inspect` the built image's labels"),
    "HD406": ("`npm ci` fails when the lockfile is out of date", "{build}"),
    "HD407": ("a pipeline whose first command failed silently now fails the build", "{build}"),
    "HD410": ("a later step relied on the `cd` of an earlier `RUN`", "{build}"),
    "HD411": ("a tool only the build stage has (compiler, shell tool) is missing at runtime",
              "{build}, then {run} and hit its main endpoint"),
    "HD504": ("a new CI workflow runs on every pull request and can block merges", "open the workflow run "
              "of this PR and read its jobs"),
    "HD505": ("new runtime rules may flag behaviour the app relies on", "read the rules and run the app"),
    "HD608": ("nothing changes in the file: the command is a suggestion to run the image hardened",
              "run the suggested command and use the app"),
    "HD601": ("a process that gains privileges (setuid, sudo) at runtime can no longer", "{up} and {ps}"),
    "HD602": ("the service loses host access (socket, host network or PID namespace) it may use", "{up} and {ps}"),
    "HD603": ("the service loses Linux capabilities it may need (binding ports < 1024, chown)", "{up} and {ps}; "
              "check its logs for `Operation not permitted`"),
    "HD604": ("the root file system is read-only: writes outside the listed tmpfs and volumes fail",
              "{up}, exercise the app, and check its logs for `Read-only file system`"),
    "HD605": ("a wrong health check marks a good service unhealthy (and restarts or blocks dependents)",
              "{up} and watch the HEALTH column of {ps}"),
    "HD606": ("a limit too low kills the service (OOM) or slows it under load", "{up}; watch `docker stats`"),
    "HD607": ("a value moved to a secret file is read from `/run/secrets/…` now", "{up} and {ps}"),
    "HD609": ("nothing changes in the file: weak defaults and tracked credentials are listed to rotate",
              "set the variables in the deployment's environment and rotate the values"),
    "HD701": ("services no longer on a shared network cannot reach each other", "{up}, then call each service "
              "from the services that use it"),
    "HD702": ("a published port bound to 127.0.0.1 is no longer reachable from other hosts",
              "{up}, then call the port from where its clients are"),
}
_GENERIC = ("the build or the start of the app", "{build}")


def check_for(transform_id: str, path: str, kind: str) -> Check:
    """The failure this kind of change can cause and the check, with commands for ``path``."""
    could_break, verify = _BY_ID.get(transform_id, _GENERIC)
    folder = str(PurePosixPath(path).parent)
    commands = {
        "build": code(f"docker build -f {path} {folder}"),
        "run": code(f"docker run --rm <image built from {path}>"),
        "up": code(f"docker compose -f {path} up -d"),
        "ps": code(f"docker compose -f {path} ps"),
    }
    if kind == "compose":  # a Compose file is built and run by compose
        commands["build"] = code(f"docker compose -f {path} build")
        commands["run"] = commands["up"]
    return Check(could_break, verify.format(**commands))
