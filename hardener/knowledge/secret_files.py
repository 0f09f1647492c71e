"""Which files of a build context hold secrets (by name, directory or content)."""
from __future__ import annotations

import re
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
