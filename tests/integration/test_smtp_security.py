"""The SMTP mailer against a real aiosmtpd over TLS: STARTTLS (submission), TLS from the start
(SMTPS), a login, and a certificate the system does not trust refused. The test's own CA is
trusted through ``SSL_CERT_FILE``, as an operator's private CA would be."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import ssl
from pathlib import Path

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import free_port
from widget_server.mailer import SMTPMailer, build_message
from widget_server.settings import Settings


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def authenticator(inbox: Inbox):
    def check(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = auth_data.login == b"prefs" and auth_data.password == b"s3cret"
        if ok:
            inbox.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    return check


@pytest.fixture
def tls(tmp_path: Path, monkeypatch) -> ssl.SSLContext:
    cert, key = certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts the test's CA, as a system store would
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def message():
    return build_message("prefs@maison.example", "camille@example.org", "Test", "Hello", "<p>Hello</p>")


def send(settings: Settings) -> None:
    asyncio.run(SMTPMailer(settings).send(message()))


def test_starttls_with_a_login(tls) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=tls, require_starttls=True,
                            authenticator=authenticator(inbox), auth_require_tls=True, ready_timeout=30)
    controller.start()
    try:
        send(Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=True, smtp_username="prefs",
                      smtp_password="s3cret"))
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:  # without STARTTLS: refused
            send(Settings(smtp_host="127.0.0.1", smtp_port=port))
        assert refused.value.code == 530
    finally:
        controller.stop()
    assert len(inbox.messages) == 1 and inbox.logins == ["prefs"]


def test_tls_from_the_start(tls) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=tls, ready_timeout=30)
    controller.start()
    try:
        send(Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_tls=True))
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_a_certificate_the_system_does_not_trust_is_refused(tls, monkeypatch, tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    other, _ = certificate(tmp_path / "other")
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=tls, ready_timeout=30)
    controller.start()
    try:
        with pytest.raises(aiosmtplib.SMTPConnectError) as refused:  # the certificate check fails
            send(Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_tls=True))
        assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value) or isinstance(
            refused.value.__cause__, ssl.SSLCertVerificationError)
    finally:
        controller.stop()
    assert inbox.messages == []


def test_tls_and_starttls_together_is_refused_with_what_to_do() -> None:
    with pytest.raises(ValueError, match="SMTP_TLS"):
        SMTPMailer(Settings(smtp_host="127.0.0.1", smtp_tls=True, smtp_starttls=True))
