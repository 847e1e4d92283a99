"""The local CA and server certificate, made with ``trustme`` on first run and kept.

PagerDuty's own client (7.x) refuses ``http://`` base URLs, so the local server speaks HTTPS.
The CA is written once into the state directory (``ca.pem``); clients trust it by passing it as
``verify`` or through ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``. The server certificate is valid
for 127.0.0.1, ::1 and localhost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme

__all__ = ["TlsFiles", "ensure_tls"]


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path


def ensure_tls(state_dir: Path) -> TlsFiles:
    """The CA and server key pair in ``state_dir/tls``, generated if missing."""
    tls_dir = state_dir / "tls"
    files = TlsFiles(tls_dir / "ca.pem", tls_dir / "server.pem", tls_dir / "server-key.pem")
    if all(p.exists() for p in (files.ca_file, files.cert_file, files.key_file)):
        return files
    tls_dir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="ADS local PagerDuty")
    cert = ca.issue_cert("127.0.0.1", "::1", "localhost")
    files.ca_file.write_bytes(ca.cert_pem.bytes())
    files.cert_file.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    files.key_file.write_bytes(cert.private_key_pem.bytes())
    files.key_file.chmod(0o600)
    return files
