"""A TLS impostor for the tests that check Kite Ticker connections verify TLS."""
from __future__ import annotations

from pathlib import Path


class ImpostorTLS:
    """A TLS server on 127.0.0.1 with a self-signed certificate for "localhost": what an attacker
    on the path could offer. ``handshakes`` counts TLS connections tried, ``requests`` what it
    read after a completed handshake (a client that skipped verification would send its
    handshake's GET, the access token in its URL)."""

    def __init__(self, directory: Path) -> None:
        import datetime
        import socket
        import ssl
        import threading

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
                .sign(key, hashes.SHA256()))
        (directory / "impostor.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(directory / "impostor.pem")
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.handshakes = 0
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import ssl
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.handshakes += 1
            conn.settimeout(5)
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    data = tls.recv(4096)
                    if data:
                        self.requests.append(data)
            except (ssl.SSLError, OSError):
                pass

    def close(self) -> None:
        self.listener.close()
