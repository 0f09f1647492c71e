"""knowledge.secret_files.content_of: what a file holds decides whether a build may lose it."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardener.knowledge.secret_files import CONTENT_CAP, content_of

CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(("name", "content", "secret"), [
    pytest.param("k.pem", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n", "a private key (RSA PRIVATE KEY)", id="rsa-pem"),
    pytest.param("k.key", "-----BEGIN PRIVATE KEY-----\nMIIE\n", "a private key (PRIVATE KEY)", id="pkcs8"),
    pytest.param("k.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIE\n", "a private key (ENCRYPTED PRIVATE KEY)", id="encrypted"),
    pytest.param("id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n", "a private key (OPENSSH PRIVATE KEY)", id="openssh"),
    pytest.param("k.asc", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQ\n", "a private key (PGP PRIVATE KEY BLOCK)", id="pgp"),
    pytest.param("k.ppk", "PuTTY-User-Key-File-3: ssh-ed25519\n", "a private key (PuTTY PRIVATE KEY)", id="putty"),
    pytest.param("bundle.pem", CERT + "-----BEGIN EC PRIVATE KEY-----\nMHc\n", "a private key (EC PRIVATE KEY)", id="cert-and-key"),
    pytest.param("c.p12", "0\x82\x0b\x01", "a PKCS#12/Java key store (it may hold a private key)", id="pkcs12"),
    pytest.param("credentials", "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
                 "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", None, id="aws-pair-is-a-credential"),
    pytest.param(".env", "DB_PASSWORD=hunter2\n", "a credential (DB_PASSWORD=…)", id="password"),
    pytest.param(".env", "export STRIPE_SECRET_KEY='sk_live_abc'\n", "a credential (STRIPE_SECRET_KEY=…)", id="export-quoted"),
    pytest.param("settings.yaml", "github_token: ghp_abcdef\n", "a credential (github_token=…)", id="yaml"),
    pytest.param(".env", "DATABASE_URL=postgres://app:s3cret@db:5432/app\n", "a credential (a password in a URL)", id="url-password"),
    pytest.param(".netrc", "machine pypi.org login me password pw1\n", "a credential (a netrc password)", id="netrc"),
    # no secret: certificates, public keys, public settings, placeholders and references
    pytest.param("ca.pem", CERT * 3, None, id="ca-bundle"),
    pytest.param("id_rsa.pub", "ssh-rsa AAAAB3NzaC1yc2E me@host\n", None, id="ssh-public-key"),
    pytest.param("pub.pem", "-----BEGIN PUBLIC KEY-----\nMFkw\n", None, id="public-key"),
    pytest.param(".env", "VITE_API_URL=https://api.example.org\nNODE_ENV=production\n", None, id="public-dotenv"),
    pytest.param(".env", "DB_PASSWORD=\nSECRET_KEY=${SECRET_KEY}\nAPI_TOKEN=changeme\nAUTH_TOKEN=<your-token>\n", None,
                 id="placeholders"),
    pytest.param(".env", "# PASSWORD=hunter2\nDB_PASSWORD_FILE=/run/secrets/db\n", None, id="comment-and-secret-file"),
    pytest.param(".env", "DATABASE_URL=postgres://app:${DB_PASSWORD}@db/app\n", None, id="url-with-variable"),
    pytest.param("k.pem", "", None, id="empty"),
])
def test_content(tmp_path: Path, name: str, content: str, secret: str | None) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode("latin-1"))
    found = content_of(path).secret
    if name == "credentials":
        assert found is not None and found.startswith("an AWS access key (AKIAIOSF")
    else:
        assert found == secret


def test_what_a_harmless_file_holds_is_said(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text(CERT)
    (tmp_path / ".env").write_text("A=1\n")
    assert content_of(tmp_path / "ca.pem").what == "only certificates"
    assert content_of(tmp_path / ".env").what == "no secret-looking values"


def test_a_key_past_the_cap_is_unknown_so_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "bundle.pem"
    path.write_text(CERT * (CONTENT_CAP // len(CERT) + 2) + "-----BEGIN PRIVATE KEY-----\n")
    assert "larger than 256 KiB" in (content_of(path).secret or "")


def test_binary_key_file_is_a_secret(tmp_path: Path) -> None:
    (tmp_path / "k.der").write_bytes(b"0\x82\x04\xa4\x02\x01\x00\x02\x82\x01\x01\x00")
    (tmp_path / "k.key").write_bytes(b"\x00\x01binary")
    (tmp_path / "notes.txt").write_bytes(b"\x00\x01binary")
    assert content_of(tmp_path / "k.key").secret == "a binary key file (it may be a private key)"
    assert content_of(tmp_path / "k.der").secret == "a binary key file (it may be a private key)"
    assert content_of(tmp_path / "notes.txt").secret is None  # binary, but not a key file by name
