"""Which files of a build context hold secrets: by name or directory (``secret_kind``, a first
guess) and by content (``content_of``, what decides whether a build may lose the file)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hardener.limits import read_bounded

_TEMPLATE = re.compile(r"\.(example|sample|template|dist|defaults?|tpl)$")


_BY_NAME: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\.env(\.[\w.-]+)?"), "dotenv file"),
    (re.compile(r"id_(rsa|dsa|ecdsa|ed25519)(?!.*\.pub$).*"), "SSH private key"),
    (re.compile(r".+\.(pem|key|p12|pfx|jks|keystore)"), "private key or certificate"),
    (re.compile(r"\.pypirc|\.netrc|\.git-credentials|\.htpasswd"), "credentials file"),
    (re.compile(r".+\.tfstate(\.backup)?"), "Terraform state (holds secrets in clear text)"),
)


_SECRET_DIRS = {".ssh": "SSH directory", ".aws": "AWS credentials", ".gnupg": "GnuPG keyring",
                ".docker": "Docker client config"}


def secret_kind(directory: Path, path: str) -> str | None:
    """Why the file at ``path`` looks like a secret, or None (directories are never reported)."""
    name = path.rsplit("/", 1)[-1]
    full = directory / path
    if full.is_dir():
        return None
    for part in path.split("/")[:-1]:
        if part in _SECRET_DIRS:
            return _SECRET_DIRS[part]
    if _TEMPLATE.search(name):
        return None
    for pattern, why in _BY_NAME:
        if pattern.fullmatch(name):
            return why
    if name == ".npmrc" and b"_authToken" in _head(full):
        return "npm registry token"
    if name.endswith(".json") and b'"service_account"' in (head := _head(full)) and b"private_key" in head:
        return "gcloud service-account key"
    return None


def _head(path: Path) -> bytes:
    try:
        return read_bounded(path, 8192, truncate=True)
    except OSError:
        return b""


# What a file holds, read from its bytes: a secret name (`*.pem`, `.env`) says nothing about
# whether excluding it can break a build; a CA bundle or a `.env` of public build settings is
# as much part of the app as its code. Reads are capped: a secret marker past the cap is not
# seen, so a larger file is called unknown, which counts as a secret (a human looks).
CONTENT_CAP = 256 * 1024

_PRIVATE_BLOCK = re.compile(rb"-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED |OPENSSH |SSH2 ENCRYPTED )?PRIVATE KEY"
                            rb"|PGP PRIVATE KEY BLOCK)-----")
_PUTTY = re.compile(rb"^PuTTY-User-Key-File-\d+:", re.MULTILINE)
_CERT_BLOCK = re.compile(rb"-----BEGIN (?:TRUSTED )?CERTIFICATE-----")
_PUBLIC_BLOCK = re.compile(rb"-----BEGIN (?:RSA |EC )?PUBLIC KEY-----|-----BEGIN PGP PUBLIC KEY BLOCK-----"
                           rb"|^(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-\S+) AAAA", re.MULTILINE)
_AWS_KEY_ID = re.compile(rb"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
_AWS_SECRET = re.compile(rb"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")
# NAME=value, NAME: value, "name": "value" where the name says it holds a credential
_ASSIGNMENT = re.compile(
    rb"""^[ \t]*(?:export[ \t]+)?["']?([A-Za-z0-9_.-]*?(?:pass(?:word|wd)?|secret|token|api[_-]?key|apikey"""
    rb"""|private[_-]?key|access[_-]?key|credentials?)[A-Za-z0-9_.-]*)["']?"""
    rb"""[ \t]*[=:][ \t]*(.*?)[ \t]*,?\r?$""", re.IGNORECASE | re.MULTILINE)
_URL_PASSWORD = re.compile(rb"[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:([^/\s@'\"]+)@", re.IGNORECASE)
_NETRC_PASSWORD = re.compile(rb"(?:^|\s)password\s+(\S+)")
# values that hold no secret: empty, a reference to somewhere else, or an obvious placeholder
_PLACEHOLDER = re.compile(
    r"""["']?(|\$\{?[A-Za-z_][\w:-]*\}?|<[^>]*>|\{\{.*\}\}|%\(?\w+\)?s?|x+|\*+|\.+|-+|changeme|change[_-]?me|replace[_-]?me"""
    r"""|your[_-].*|example.*|dummy|placeholder|secret|password|token|none|null|nil|true|false|todo|tbd|fixme"""
    r"""|/run/secrets/.*|file:.*|env:.*)["']?,?""", re.IGNORECASE)
# binary containers that usually carry a private key; without the passphrase we cannot look inside
_KEY_CONTAINERS = (".p12", ".pfx", ".jks", ".keystore")


@dataclass(frozen=True)
class Content:
    """What a context file holds: ``secret`` says why it is one (None: it holds none we know
    of); ``what`` describes the content for a reason the user reads."""

    secret: str | None
    what: str


def content_of(path: Path) -> Content:
    """Classify the file at ``path`` by its bytes (at most ``CONTENT_CAP`` are read)."""
    try:
        data = read_bounded(path, CONTENT_CAP + 1, truncate=True)
    except OSError:
        return Content("it cannot be read, so what it holds is unknown", "unreadable content")
    if path.name.lower().endswith(_KEY_CONTAINERS):
        return Content("a PKCS#12/Java key store (it may hold a private key)", "a key store")
    block = _PRIVATE_BLOCK.search(data)
    if block or _PUTTY.search(data):
        kind = block.group(1).decode() if block else "PuTTY PRIVATE KEY"
        return Content(f"a private key ({kind})", "a private key")
    aws = _AWS_KEY_ID.search(data)
    if aws and _AWS_SECRET.search(data):
        return Content(f"an AWS access key ({aws.group().decode()[:8]}… with a secret key)", "an AWS key")
    credential = _credential(data)
    if credential:
        return Content(f"a credential ({credential})", "a credential")
    if len(data) > CONTENT_CAP:
        return Content(f"it is larger than {CONTENT_CAP // 1024} KiB, so what it holds is unknown", "a large file")
    if b"\0" in data[:8192] and path.suffix.lower() in (".key", ".der", ".pem", ".pk8", ".asc", ".gpg"):
        return Content("a binary key file (it may be a private key)", "a binary key file")
    return Content(None, _describe(data))


def _credential(data: bytes) -> str | None:
    """The name of the first credential with a real-looking value (placeholders do not count)."""
    for match in _ASSIGNMENT.finditer(data):
        if _real(match.group(2)):
            return match.group(1).decode("utf-8", "replace") + "=…"
    for pattern, name in ((_URL_PASSWORD, "a password in a URL"), (_NETRC_PASSWORD, "a netrc password")):
        if any(_real(m.group(1)) for m in pattern.finditer(data)):
            return name
    return None


def _real(raw: bytes) -> bool:
    value = raw.decode("utf-8", "replace").strip()
    return not value.startswith("#") and not _PLACEHOLDER.fullmatch(value)


def _describe(data: bytes) -> str:
    if _CERT_BLOCK.search(data):
        return "only certificates" if not _PUBLIC_BLOCK.search(data) else "only certificates and public keys"
    if _PUBLIC_BLOCK.search(data):
        return "only public keys"
    if not data.strip():
        return "nothing (it is empty)"
    return "no secret-looking values"
