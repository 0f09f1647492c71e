"""Does an image's known health command still fit the service as it is configured?

The knowledge base holds the health command each image ships for its *default*
configuration. A service that moves the port, turns on authentication or TLS, adds a path
prefix or never enables the endpoint the command calls would be marked unhealthy forever:
``docker compose up --wait`` fails and every ``depends_on: condition: service_healthy``
waits. This module reads the service's `command:`/`entrypoint:` flags, its `environment:`
and its image tag, and returns the command adjusted to that configuration (port, path,
entry point flags), or why no command can be trusted. A setting it cannot read (a
variable, a mounted configuration file it does not parse) is a reason to refuse, never a
guess.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ruamel.yaml.nodes import Node

from hardener.compose.command import service_words
from hardener.compose.env_secrets import entries
from hardener.compose.listen import bind_mounts
from hardener.compose.splice import mapping_get, scalar_value

_URL = re.compile(r"http://localhost(?::(\d+))?(/[^\s'\"]*)")
_TRAEFIK_FILES = ("/etc/traefik/traefik.yml", "/etc/traefik/traefik.yaml", "/etc/traefik/traefik.toml",
                  "/etc/traefik", "/traefik.yml", "/traefik.yaml", "/traefik.toml")


@dataclass(frozen=True)
class Setup:
    """What the service configures, as far as it is written literally."""

    words: list[str]  # entrypoint + command words (variables kept as written)
    env: dict[str, str | None]  # None: the value is not in the file
    tag: str | None
    mounts: list[str]  # bind-mount targets

    def flag(self, *names: str) -> str | None:
        """The value of ``--name=value`` or ``--name value`` (the last one wins)."""
        found = None
        for i, word in enumerate(self.words):
            for name in names:
                if word.startswith(name + "="):
                    found = word[len(name) + 1:]
                elif word == name and i + 1 < len(self.words):
                    found = self.words[i + 1]
        return found


Fit = tuple[list[str], str | None, str]  # (health command, why not, note for the reason)


def fit(image: str, test: list[str], service: Node | None) -> Fit:
    """The health command for ``image`` (a knowledge-base name) adjusted to the service."""
    rule = _RULES.get(image)
    if rule is None:
        return test, None, ""
    raw = scalar_value(mapping_get(service, "image")) or ""
    tag = raw.rsplit(":", 1)[1] if ":" in raw.rsplit("/", 1)[-1] else None
    env = {e.name: e.value for e in entries(mapping_get(service, "environment"))}
    setup = Setup(service_words(service), env, tag.split("@", 1)[0] if tag else None,
                  [m.target.rstrip("/") or "/" for m in bind_mounts(service)])
    return rule(test, setup)


def _literal(value: str | None, what: str) -> str | None:
    """Why ``value`` cannot be used (a variable), or None."""
    return f"{what} comes from a variable" if value is not None and "$" in value else None


def _major(tag: str | None) -> int | None:
    match = re.match(r"v?(\d+)", tag or "")
    return int(match.group(1)) if match else None


def _port_of(address: str) -> int | None:
    match = re.search(r":(\d+)$", address) or re.fullmatch(r"(\d+)", address)
    return int(match.group(1)) if match else None


def _retarget(test: list[str], port: int | None, prefix: str = "") -> list[str]:
    """``test`` with its localhost URL moved to ``port`` and under the path ``prefix``."""
    def one(m: re.Match[str]) -> str:
        shown = port if port is not None else m.group(1)
        return f"http://localhost{':' + str(shown) if shown else ''}{prefix.rstrip('/')}{m.group(2)}"
    return [_URL.sub(one, word) for word in test]


def _traefik(test: list[str], s: Setup) -> Fit:
    config = s.flag("--configFile", "--configfile")
    mounted = [t for t in s.mounts if t in _TRAEFIK_FILES]
    if config or mounted:
        return test, (f"its static configuration is read from a file ({config or mounted[0]}); `traefik "
                      "healthcheck` reads the same file, but whether that file enables ping is not checked "
                      "here: add `ping: {}` there and write the check by hand"), ""
    flags = [w for w in s.words if w == "--ping" or w.startswith(("--ping=", "--ping."))]
    env = {k: v for k, v in s.env.items() if k.startswith("TRAEFIK_PING")}
    if any("$" in w for w in flags) or any(v is None or "$" in v for v in env.values()):
        return test, "its ping settings come from variables", ""
    enabled = [w for w in flags if w not in ("--ping=false",)] or [k for k, v in env.items() if v != "false"]
    if not enabled:
        return test, ("`traefik healthcheck` calls the ping endpoint, which this service does not enable (no "
                      "`--ping` in its command): add `--ping=true` to the command, then the check"), ""
    if env and not flags:
        return ["CMD", "traefik", "healthcheck"], None, " (ping enabled by its TRAEFIK_PING environment)"
    entry = s.flag("--ping.entrypoint") or "traefik"
    address = [w for w in s.words if w.lower().startswith(f"--entrypoints.{entry.lower()}.address=")]
    if any("$" in w for w in address):
        return test, f"the address of its {entry} entry point comes from a variable", ""
    return ["CMD", "traefik", "healthcheck", *flags, *address], None, " (the ping flags of its command)"


def _redis(test: list[str], s: Setup) -> Fit:
    if s.flag("--requirepass") is not None or any(k in s.env for k in ("REDIS_PASSWORD", "REDIS_ARGS")):
        return test, "it requires a password; `redis-cli ping` would be answered NOAUTH: write the check with it", ""
    if any(w.endswith(".conf") for w in s.words):
        return test, "it reads a redis.conf that may set the port or a password; write the check by hand", ""
    port = s.flag("--port")
    why = _literal(port, "its --port")
    if why or port == "0":
        return test, why or "it listens on TLS only (--port 0); write the check with redis-cli --tls", ""
    if port:
        return [*test[:2], "-p", port, *test[2:]], None, f" (port {port}: its --port)"
    return test, None, ""


def _postgres(test: list[str], s: Setup) -> Fit:
    port = s.flag("-p", "--port")
    setting = next((w.split("=", 1)[1] for i, w in enumerate(s.words)
                    if w.startswith("port=") and i and s.words[i - 1] == "-c"), None)
    port = setting or port
    why = _literal(port, "its port")
    if why:
        return test, why, ""
    if port and port.isdigit():
        return [test[0], f"{test[1]} -p {port}"], None, f" (port {port}: its command)"
    return test, None, ""


def _elasticsearch(test: list[str], s: Setup) -> Fit:
    security = s.env.get("xpack.security.enabled", s.env.get("XPACK_SECURITY_ENABLED"))
    major = _major(s.tag)
    why = _literal(security, "xpack.security.enabled")
    if why:
        return test, why, ""
    if security != "false" and (major is None or major >= 8):
        return test, ("Elasticsearch 8 and later serve HTTPS with a password unless `xpack.security.enabled=false`; "
                      "a plain-HTTP probe would fail: write the check with the CA and credentials"), ""
    port = s.env.get("http.port", s.env.get("HTTP_PORT"))
    why = _literal(port, "http.port")
    if why:
        return test, why, ""
    return (_retarget(test, int(port)), None, f" (port {port}: its http.port)") if port else (test, None, "")


def _grafana(test: list[str], s: Setup) -> Fit:
    if any(t.startswith("/etc/grafana") for t in s.mounts) or "GF_PATHS_CONFIG" in s.env:
        return test, "it mounts its own Grafana configuration, which may move the port; write the check by hand", ""
    values = {k: s.env.get(k) for k in ("GF_SERVER_HTTP_PORT", "GF_SERVER_PROTOCOL", "GF_SERVER_SERVE_FROM_SUB_PATH")}
    why = next((_literal(v, k) for k, v in values.items() if _literal(v, k)), None)
    if why:
        return test, why, ""
    if (values["GF_SERVER_PROTOCOL"] or "http") != "http":
        return test, f"it serves {values['GF_SERVER_PROTOCOL']}, not plain HTTP; write the check by hand", ""
    if values["GF_SERVER_SERVE_FROM_SUB_PATH"] == "true":
        return test, "it serves from a sub path (GF_SERVER_SERVE_FROM_SUB_PATH); write the check by hand", ""
    port = values["GF_SERVER_HTTP_PORT"]
    return (_retarget(test, int(port)), None, f" (port {port}: GF_SERVER_HTTP_PORT)") if port else (test, None, "")


def _prometheus(test: list[str], s: Setup) -> Fit:
    listen, prefix, external = (s.flag(f"--web.{n}") for n in ("listen-address", "route-prefix", "external-url"))
    why = _literal(listen, "--web.listen-address") or _literal(prefix, "--web.route-prefix") \
        or _literal(external, "--web.external-url")
    if why or s.flag("--web.config.file") is not None:
        return test, why or "its --web.config.file may turn on TLS or basic auth; write the check by hand", ""
    if prefix is None and external:
        prefix = re.sub(r"^[a-z]+://[^/]*", "", external)
    port = _port_of(listen) if listen else None
    if listen and port is None:
        return test, f"its --web.listen-address {listen!r} has no port", ""
    if port is None and not prefix:
        return test, None, ""
    where = ", ".join(x for x in (f"port {port}" if port else "", f"path {prefix}" if prefix else "") if x)
    return _retarget(test, port, prefix or ""), None, f" ({where}: its --web flags)"


def _mongo(test: list[str], s: Setup) -> Fit:
    major = _major(s.tag)
    if major is not None and major < 5:
        return test, f"mongo {s.tag} ships the legacy `mongo` shell, not mongosh; write the check with it", ""
    port = s.flag("--port")
    why = _literal(port, "its --port")
    if why:
        return test, why, ""
    return ([*test[:2], "--port", port, *test[2:]], None, f" (port {port}: its --port)") if port else (test, None, "")


# MariaDB's images gained /usr/local/bin/healthcheck.sh in the June 2023 builds: these patch
# releases first shipped it (mariadb-docker's release notes); lines that were end-of-life by
# then never got it, not even on their floating tags.
_MARIADB_HEALTHCHECK = {(10, 4): 30, (10, 5): 21, (10, 6): 14, (10, 9): 7, (10, 10): 5, (10, 11): 4, (11, 0): 2}
_MARIADB_PING = ["CMD", "mysqladmin", "ping", "-h", "localhost"]


def _mariadb(test: list[str], s: Setup) -> Fit:
    """An image older than healthcheck.sh is checked with mysqladmin ping (every 10.x image has it)."""
    match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-|$)", s.tag or "")
    if match is None:
        return test, None, ""  # latest, lts, a codename: a current build
    major = int(match.group(1))
    minor, patch = (int(g) if g is not None else None for g in match.groups()[1:])
    if minor is None or (major, minor) >= (11, 1):
        return test, None, ""
    first = _MARIADB_HEALTHCHECK.get((major, minor))
    if first is not None and (patch is None or patch >= first):
        return test, None, ""
    if major >= 11:
        return test, f"mariadb {s.tag} predates the image's healthcheck.sh and has no mysqladmin; write the check by hand", ""
    return _MARIADB_PING, None, f" (mariadb {s.tag} predates the image's healthcheck.sh)"


def _mailpit(test: list[str], s: Setup) -> Fit:
    flags = [w for w in s.words if w.startswith(("--listen", "-l", "--webroot", "--ui-tls"))]
    if flags:
        return test, (f"its command sets {flags[0].split('=')[0]}, which `mailpit readyz` does not see; set it "
                      "through MP_* environment instead, or write the check by hand"), ""
    return test, None, ""


def _nginx(test: list[str], s: Setup) -> Fit:
    """Mounted configurations are read by ``listen.nginx_listening``; this catches a command that
    renders the configuration at start (``envsubst < /tmp/nginx.conf > /etc/nginx/conf.d/…``)."""
    code = " ".join(s.words)
    if re.search(r"(>|\btee\b|\bcp\b|\bmv\b|\bsed\s+-i)[^;&|]*/etc/nginx", code):
        return test, "its command writes the nginx configuration at start, which decides the port; write the check by hand", ""
    return test, None, ""


_RULES: dict[str, Callable[[list[str], Setup], Fit]] = {
    "nginx": _nginx,
    "nginx-unprivileged": _nginx,
    "traefik": _traefik,
    "redis": _redis,
    "postgres": _postgres,
    "elasticsearch": _elasticsearch,
    "grafana": _grafana,
    "prometheus": _prometheus,
    "mongo": _mongo,
    "mariadb": _mariadb,
    "mailpit": _mailpit,
}
