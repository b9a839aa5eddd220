"""PAdES B-T: with ``SEAL_TSA_URL`` the seal carries an RFC 3161 time stamp from that authority.

The authority is a real HTTP server started by the test, answering with pyHanko's test time stamper.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import seed_people
from tests.freeze.conftest import bundle_of, make_network, open_for_signature, unpack


def _tsa_credentials() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return certificate.public_bytes(serialization.Encoding.DER), key_der


@pytest.fixture
def tsa() -> Iterator[tuple[str, bytes, list[int]]]:
    """(URL, the authority's certificate DER, a list counting the requests)."""
    from asn1crypto import keys, tsp
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.timestamps import DummyTimeStamper

    cert_der, key_der = _tsa_credentials()
    stamper = DummyTimeStamper(tsa_cert=asn1_x509.Certificate.load(cert_der),
                               tsa_key=keys.PrivateKeyInfo.load(key_der))
    requests: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            answer = stamper.request_tsa_response(request).dump()
            requests.append(1)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa", cert_der, requests
    finally:
        server.shutdown()
        server.server_close()


def test_a_configured_time_stamp_authority_makes_the_seal_pades_b_t(app_factory: Any, tsa: Any,
                                                                    tmp_path: Any) -> None:
    from pyhanko.keys import load_certs_from_pemder_data
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    url, tsa_cert, requests = tsa
    app = app_factory(SEAL_TSA_URL=url)
    with app.app_context():
        network = make_network(seed_people())
        declaration = open_for_signature(network, rule="quorum", quorum=1)
        network.izmir.sign(declaration)
        folder = unpack(bytes(bundle_of(declaration).archive), tmp_path / "bundle")
    assert requests, "the authority was asked (pyHanko asks once more to size the signature)"
    roots = [*load_certs_from_pemder_data((folder / "seal.crt").read_bytes()),
             *load_certs_from_pemder_data(tsa_cert)]
    reader = PdfFileReader(io.BytesIO((folder / "declaration.pdf").read_bytes()), strict=False)
    (signature,) = reader.embedded_signatures
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=roots))
    assert status.bottom_line, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.intact
    assert status.timestamp_validity.trusted
