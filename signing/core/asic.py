"""The bundle as an ASiC-E container (ETSI EN 319 162-1), for the e-signature tools of EU institutions.

``mimetype`` comes first, stored uncompressed; then the bundle's files unchanged, as data objects under
the same folder (so VERIFY.txt and ``signing.verify`` work on them as on the zip); then
``META-INF/ASiCManifest.xml``, which lists every data object with its SHA-256, and
``META-INF/signature001.p7s``, a detached CAdES signature of that manifest by the seal certificate
(``openssl cms -verify`` checks it). The bundle's own Ed25519 signatures (``*.sig``), keys and
``manifest.json`` stay data objects outside ``META-INF``, where no AdES tool looks for signatures.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Callable
from xml.sax.saxutils import quoteattr

MIMETYPE = "application/vnd.etsi.asic-e+zip"
MANIFEST = "META-INF/ASiCManifest.xml"
SIGNATURE = "META-INF/signature001.p7s"
_MEDIA_TYPES = {
    ".md": "text/markdown", ".pdf": "application/pdf", ".json": "application/json", ".txt": "text/plain",
    ".pem": "application/x-pem-file", ".crt": "application/pkix-cert",
}


def media_type(name: str) -> str:
    for suffix, kind in _MEDIA_TYPES.items():
        if name.endswith(suffix):
            return kind
    return "application/octet-stream"


def asic_manifest(files: dict[str, bytes]) -> bytes:
    """The ASiCManifest: the signature it belongs to and every data object's SHA-256."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
        '<asic:ASiCManifest xmlns:asic="http://uri.etsi.org/02918/v1.2.1#" '
        'xmlns:ds="http://www.w3.org/2000/09/xmldsig#">',
        f'  <asic:SigReference URI="{SIGNATURE}" MimeType="application/pkcs7-signature"/>',
    ]
    for name in sorted(files):
        digest = base64.b64encode(hashlib.sha256(files[name]).digest()).decode("ascii")
        lines += [
            f"  <asic:DataObjectReference URI={quoteattr(name)} MimeType={quoteattr(media_type(name))}>",
            '    <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>',
            f"    <ds:DigestValue>{digest}</ds:DigestValue>",
            "  </asic:DataObjectReference>",
        ]
    lines.append("</asic:ASiCManifest>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def build_asice(bundle_archive: bytes, sign_manifest: Callable[[bytes], bytes]) -> bytes:
    """The container of the bundle zip's files; ``sign_manifest`` returns the DER CAdES signature."""
    with zipfile.ZipFile(io.BytesIO(bundle_archive)) as bundle:
        infos = [info for info in bundle.infolist() if not info.is_dir()]
        files = {info.filename: bundle.read(info) for info in infos}
    stamp = infos[0].date_time if infos else (1980, 1, 1, 0, 0, 0)
    manifest = asic_manifest(files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as container:
        first = zipfile.ZipInfo("mimetype", date_time=stamp)
        first.compress_type = zipfile.ZIP_STORED  # no extra field, uncompressed: readable at a fixed offset
        container.writestr(first, MIMETYPE.encode("ascii"))
        for info in infos:
            entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            entry.compress_type, entry.external_attr = info.compress_type, info.external_attr
            container.writestr(entry, files[info.filename])
        for name, content in ((MANIFEST, manifest), (SIGNATURE, sign_manifest(manifest))):
            entry = zipfile.ZipInfo(name, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            container.writestr(entry, content)
    return buffer.getvalue()
