"""docs/certificate-profile.md against what the CA really issues.

The document's tables are parsed; the CA's artefacts (``pki_artefacts.make_artefacts``: through core.pki,
for every profile in ``ALGORITHMS``) are described here row by row in the document's words, worked out
from the DER (a phrase only when the artefact really is so, the raw value otherwise), and the two must be
equal: a row the CA does not honour fails, and so does a field the CA writes that no row names.
ASN.1 structure that cryptography does not expose is read with pyasn1 (installed with pkilint).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    CRLEntryExtensionOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
    NameOID,
    OCSPExtensionOID,
    SignatureAlgorithmOID,
)
from pki_artefacts import ISSUING_NAME, ROOT_NAME, Artefacts, make_artefacts
from pki_helpers import SETTINGS, SUBJECT
from pyasn1.codec.der import decoder, encoder
from pyasn1_alt_modules import rfc5280, rfc5480, rfc6960

from core.model import CardKind
from core.pki.ca import BACKDATE
from core.pki.registry import CertificateRecord, MemoryRegistry
from core.pki.revocation import reason_flag
from core.pki.signer import ALGORITHMS

DOC = Path(__file__).resolve().parents[2] / "docs" / "certificate-profile.md"
PER_PROFILE = "per profile"
CLAUSE = re.compile(r"\bRFC \d{4}\b|\bX\.520\b")
# The Profiles table column a "per profile" row stands for.
PROFILE_COLUMN = {"signatureAlgorithm": "signatureAlgorithm", "subjectPublicKeyInfo": "subjectPublicKeyInfo",
                  "keyUsage": "card keyUsage"}

Row = tuple[str, str, str]  # field / extension, value, critical
# An unsuccessful OCSPResponse is its responseStatus alone: SEQUENCE { ENUMERATED status } (RFC 6960 4.2.1)
UNSUCCESSFUL_DER = {status: bytes([0x30, 3, 0x0A, 1, status]) for status in (1, 6)}

# --- the document ----------------------------------------------------------------------------------


def doc_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Each ``## heading``'s table as a list of rows, each row a dict by column header."""
    lines: dict[str, list[list[str]]] = {}
    heading = ""
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        elif line.startswith("|"):
            lines.setdefault(heading, []).append([cell.strip() for cell in line.strip().strip("|").split("|")])
    # the first line is the header, the second the separator
    return {heading: [dict(zip(rows[0], row, strict=True)) for row in rows[2:]] for heading, rows in lines.items()}


TABLES = doc_tables(DOC.read_text(encoding="utf-8"))


def profile_table(tables: dict[str, list[dict[str, str]]]) -> dict[str, dict[str, str]]:
    return {row["profile"].strip("`"): row for row in tables["Profiles"]}


def documented(tables: dict[str, list[dict[str, str]]], heading: str, profile: str) -> list[Row]:
    """A table's rows as (field, value, critical), "per profile" replaced by the profile's value."""
    profiles = profile_table(tables)
    rows = []
    for row in tables[heading]:
        field, value = row["field / extension"], row["value"]
        if value == PER_PROFILE:
            value = profiles[profile][PROFILE_COLUMN[field]]
        rows.append((field, value, row["critical"]))
    return rows


# --- the artefacts, described in the document's words ------------------------------------------------

SM2_CURVE = "1.2.156.10197.1.301"  # GM/T 0006-2012
SIGNATURE_NAMES = {SignatureAlgorithmOID.RSA_WITH_SHA256: "sha256WithRSAEncryption",
                   SignatureAlgorithmOID.ECDSA_WITH_SHA256: "ecdsa-with-SHA256",
                   x509.ObjectIdentifier("1.2.156.10197.1.501"): "SM2-with-SM3"}
EXTENSION_NAMES = {
    ExtensionOID.BASIC_CONSTRAINTS: "basicConstraints", ExtensionOID.KEY_USAGE: "keyUsage",
    ExtensionOID.EXTENDED_KEY_USAGE: "extKeyUsage", ExtensionOID.SUBJECT_KEY_IDENTIFIER: "subjectKeyIdentifier",
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER: "authorityKeyIdentifier",
    ExtensionOID.CRL_DISTRIBUTION_POINTS: "cRLDistributionPoints",
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS: "authorityInfoAccess", ExtensionOID.CRL_NUMBER: "cRLNumber",
    CRLEntryExtensionOID.CRL_REASON: "reasonCode", OCSPExtensionOID.NONCE: "nonce",
}
ATTRIBUTE_NAMES = {NameOID.COUNTRY_NAME: "countryName", NameOID.ORGANIZATION_NAME: "organizationName",
                   NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier",
                   NameOID.ORGANIZATIONAL_UNIT_NAME: "organizationalUnitName",
                   NameOID.COMMON_NAME: "commonName", NameOID.SERIAL_NUMBER: "serialNumber"}
EKU_NAMES = {ExtendedKeyUsageOID.CLIENT_AUTH: "id-kp-clientAuth",
             ExtendedKeyUsageOID.EMAIL_PROTECTION: "id-kp-emailProtection"}
# RFC 5280 4.2.1.3, in the order of the KeyUsage BIT STRING
KEY_USAGE_BITS = (("digital_signature", "digitalSignature"), ("content_commitment", "contentCommitment"),
                  ("key_encipherment", "keyEncipherment"), ("data_encipherment", "dataEncipherment"),
                  ("key_agreement", "keyAgreement"), ("key_cert_sign", "keyCertSign"), ("crl_sign", "cRLSign"))
KINDS = [str(kind) for kind in CardKind]
KIND_PHRASE = "the card kind: " + ", ".join(f"`{k}`" for k in KINDS[:-1]) + f" or `{KINDS[-1]}`"
# What the test fed in, and the document's word for it.
INPUTS = {ROOT_NAME: "the CA name", ISSUING_NAME: "the CA name", SUBJECT.enterprise_name: "the enterprise name",
          SUBJECT.uscc: "the enterprise's unified social credit code", SUBJECT.holder_name: "the holder's name",
          SUBJECT.holder_id_masked.replace("*", "-"): "the holder's masked ID, each masked character as `-`"}


def _der(item: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return item.public_bytes(serialization.Encoding.DER)


def _critical(extension: x509.Extension[x509.ExtensionType]) -> str:
    return "yes" if extension.critical else "no"


def _name(oid: x509.ObjectIdentifier, names: dict[x509.ObjectIdentifier, str]) -> str:
    return names.get(oid, oid.dotted_string)


def _public_key_bits(certificate: x509.Certificate) -> bytes:
    decoded, _ = decoder.decode(_der(certificate), asn1Spec=rfc5280.Certificate())
    return decoded["tbsCertificate"]["subjectPublicKeyInfo"]["subjectPublicKey"].asOctets()


def _time_of_issue(at: datetime, artefacts: Artefacts, less: timedelta = timedelta(0)) -> bool:
    return artefacts.started.replace(microsecond=0) - less <= at <= artefacts.finished - less


def _plus(start: datetime, end: datetime, what: str) -> str:
    """``what + N years`` or ``+ N hours``, as exact as the CA made it; the timestamp otherwise."""
    years = end.year - start.year
    try:
        if years and start.replace(year=end.year) == end:
            return f"{what} + {years} years"
    except ValueError:  # 29 February
        pass
    hours, rest = divmod(end - start, timedelta(hours=1))
    return f"{what} + {hours} hours" if not rest and hours < 24 * 365 else end.isoformat()


def _url(uri: x509.GeneralName) -> str:
    value = str(uri.value)
    base = SETTINGS.base_url.rstrip("/")
    return f"`[web] base_url` + `{value.removeprefix(base)}`" if value.startswith(base + "/") else f"`{value}`"


def _key_usage(usage: x509.KeyUsage) -> str:
    names = [name for attribute, name in KEY_USAGE_BITS if getattr(usage, attribute)]
    if usage.key_agreement:
        names += [name for attribute, name in (("encipher_only", "encipherOnly"), ("decipher_only", "decipherOnly"))
                  if getattr(usage, attribute)]
    return ", ".join(names)


def _authority_key_id(value: x509.AuthorityKeyIdentifier, issuer: x509.Certificate) -> str:
    issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    if value.key_identifier == issuer_ski and value.authority_cert_issuer is None \
            and value.authority_cert_serial_number is None:
        return "keyIdentifier only: the issuer's subjectKeyIdentifier"
    return repr(value)


def extension_value(extension: x509.Extension[x509.ExtensionType], certificate: x509.Certificate | None,
                    issuer: x509.Certificate) -> str:
    value = extension.value
    if isinstance(value, x509.BasicConstraints):
        if not value.ca:
            return "cA FALSE"
        return "cA TRUE" + ("" if value.path_length is None else f", pathLenConstraint {value.path_length}")
    if isinstance(value, x509.KeyUsage):
        return _key_usage(value)
    if isinstance(value, x509.ExtendedKeyUsage):
        return ", ".join(_name(oid, EKU_NAMES) for oid in value)
    if isinstance(value, x509.SubjectKeyIdentifier) and certificate is not None:
        method_1 = hashlib.sha1(_public_key_bits(certificate)).digest()  # RFC 5280 4.2.1.2 (1)
        return "SHA-1 of the subjectPublicKey bits (method 1)" if value.digest == method_1 else value.digest.hex()
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return _authority_key_id(value, issuer)
    if isinstance(value, x509.CRLDistributionPoints) and len(value) == 1:
        point = value[0]
        if point.full_name and len(point.full_name) == 1 and not (point.reasons or point.crl_issuer):
            return f"one fullName URI: {_url(point.full_name[0])}"
    if isinstance(value, x509.AuthorityInformationAccess) and len(value) == 1 \
            and value[0].access_method == AuthorityInformationAccessOID.OCSP:
        return f"id-ad-ocsp, URI {_url(value[0].access_location)}"
    return repr(value)


def subject_value(attribute: x509.NameAttribute, kind: str | None) -> str:
    text = str(attribute.value)
    word = KIND_PHRASE if kind and text == kind else INPUTS.get(text, f"`{text}`")
    return f"{word} ({attribute._type.name})"


def certificate_rows(artefacts: Artefacts, certificate: x509.Certificate, issuer: x509.Certificate,
                     issuer_role: str, kind: str | None = None) -> list[Row]:
    decoded, _ = decoder.decode(_der(certificate), asn1Spec=rfc5280.Certificate())
    same_algorithm = encoder.encode(decoded["tbsCertificate"]["signature"]) == \
        encoder.encode(decoded["signatureAlgorithm"])
    serial = certificate.serial_number
    if certificate.issuer.public_bytes() != issuer.subject.public_bytes():
        issuer_text = certificate.issuer.rfc4514_string()
    elif issuer is certificate:
        issuer_text = "its own subject (self-signed)"
    else:
        issuer_text = f"the {issuer_role}'s subject, byte for byte"
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    backdate = int(BACKDATE / timedelta(minutes=1))
    rows: list[Row] = [
        ("version", certificate.version.name, "–"),
        ("serialNumber", "random, 128 bits, top bit set (32 hex digits)"
         if serial.bit_length() == 128 else format(serial, "x"), "–"),
        ("signature", "as signatureAlgorithm" if same_algorithm else "differs from signatureAlgorithm", "–"),
        ("issuer", issuer_text, "–"),
        ("validity notBefore", f"time of issue less {backdate} minutes"
         if _time_of_issue(not_before, artefacts, BACKDATE) else not_before.isoformat(), "–"),
        ("validity notAfter", _plus(not_before, not_after, "notBefore"), "–"),
    ]
    rows += [(f"subject {_name(a.oid, ATTRIBUTE_NAMES)}", subject_value(a, kind), "–") for a in certificate.subject]
    rows.append(("subjectPublicKeyInfo", spki_text(certificate, decoded), "–"))
    rows += [(_name(e.oid, EXTENSION_NAMES), extension_value(e, certificate, issuer), _critical(e))
             for e in certificate.extensions]
    rows.append(("signatureAlgorithm", _name(certificate.signature_algorithm_oid, SIGNATURE_NAMES), "–"))
    return rows


def spki_text(certificate: x509.Certificate, decoded: rfc5280.Certificate) -> str:
    algorithm = decoded["tbsCertificate"]["subjectPublicKeyInfo"]["algorithm"]
    if str(algorithm["algorithm"]) == str(rfc5480.id_ecPublicKey):
        curve, _ = decoder.decode(algorithm["parameters"], asn1Spec=rfc5480.ECParameters())
        if str(curve["namedCurve"]) == SM2_CURVE:  # pyca cannot load an SM2 key; the DER says what it is
            return f"id-ecPublicKey, namedCurve SM2 ({SM2_CURVE})"
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"rsaEncryption, {key.key_size}-bit modulus"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"id-ecPublicKey, namedCurve {key.curve.name}"
    return type(key).__name__


def crl_rows(artefacts: Artefacts, crl: x509.CertificateRevocationList, issuer: x509.Certificate,
             listed: dict[int, CertificateRecord], previous_number: int) -> list[Row]:
    decoded, _ = decoder.decode(_der(crl), asn1Spec=rfc5280.CertificateList())
    tbs = decoded["tbsCertList"]
    same_algorithm = encoder.encode(tbs["signature"]) == encoder.encode(decoded["signatureAlgorithm"])
    serials = {entry.serial_number for entry in crl}
    entries_right = serials == set(listed) and (bool(listed) or not tbs["revokedCertificates"].isValue)
    assert crl.next_update_utc is not None
    rows: list[Row] = [
        ("version", "v2" if int(tbs["version"]) == 1 else str(tbs["version"]), "–"),
        ("signature", "as signatureAlgorithm" if same_algorithm else "differs from signatureAlgorithm", "–"),
        ("issuer", "the CA's subject, byte for byte"
         if crl.issuer.public_bytes() == issuer.subject.public_bytes() else crl.issuer.rfc4514_string(), "–"),
        ("thisUpdate", "time the CRL is made"
         if _time_of_issue(crl.last_update_utc, artefacts) else crl.last_update_utc.isoformat(), "–"),
        ("nextUpdate", _plus(crl.last_update_utc, crl.next_update_utc, "thisUpdate"), "–"),
        ("revokedCertificates", "every certificate on hold or revoked; left out when there is none"
         if entries_right else f"lists {sorted(serials)}, the registry {sorted(listed)}", "–"),
    ]
    for extension in crl.extensions:
        if isinstance(extension.value, x509.CRLNumber):
            number = extension.value.crl_number
            text = "one more than the CA's previous CRL, starting at 1" if number == previous_number + 1 \
                else f"{number} after {previous_number}"
        else:
            text = extension_value(extension, None, issuer)
        rows.append((_name(extension.oid, EXTENSION_NAMES), text, _critical(extension)))
    rows.append(("signatureAlgorithm", _name(crl.signature_algorithm_oid, SIGNATURE_NAMES), "–"))
    return rows


def _verdict(phrase: str, problems: Iterable[str], seen: Iterable[str] = (), needed: Iterable[str] = ()) -> str:
    """``phrase`` when nothing went against it and every case it names was seen; else what went wrong."""
    problems, missing = list(problems), set(needed) - set(seen)
    if problems:
        return problems[0]
    return f"never seen: {sorted(missing)}" if missing else phrase


def crl_entry_rows(artefacts: Artefacts) -> list[Row]:
    """The CRL entries table's rows over every entry of every CRL of the profile."""
    unlisted, dates, reasons, seen, criticality = [], [], [], set(), set()
    others: list[Row] = []
    for label, crl in artefacts.crls.items():
        for entry in crl:
            record = artefacts.crl_records[label].get(entry.serial_number)
            if record is None:
                unlisted.append(f"{label}: {entry.serial_number:x} is neither on hold nor revoked")
                continue
            if entry.revocation_date_utc != record.revoked_at:
                dates.append(f"{label}: revocationDate {entry.revocation_date_utc}, revoked at {record.revoked_at}")
            found = None
            for extension in entry.extensions:
                if isinstance(extension.value, x509.CRLReason):
                    found = extension.value.reason
                    criticality.add(_critical(extension))
                else:
                    others.append((_name(extension.oid, EXTENSION_NAMES), repr(extension.value), _critical(extension)))
            wanted = None if record.reason == "unspecified" else reason_flag(record.reason)
            if found != wanted:
                reasons.append(f"{label}: reasonCode {found} for the stored reason {record.reason}")
            seen.add("unspecified" if found is None else "hold" if record.status == "hold" else "revoked")
    return [
        ("userCertificate", _verdict("the certificate's serialNumber", unlisted), "–"),
        ("revocationDate", _verdict("when it was revoked or put on hold", dates), "–"),
        ("reasonCode", _verdict("the reason; certificateHold while on hold; left out for unspecified", reasons,
                                seen, ("hold", "revoked", "unspecified")), "/".join(sorted(criticality))),
        *others,
    ]


def _issuer_hashes(algorithm: hashes.HashAlgorithm, ca: x509.Certificate) -> tuple[bytes, bytes]:
    def digest(data: bytes) -> bytes:
        h = hashes.Hash(algorithm)
        h.update(data)
        return h.finalize()
    return digest(ca.subject.public_bytes()), digest(_public_key_bits(ca))  # RFC 6960 4.1.1


def ocsp_rows(artefacts: Artefacts) -> list[Row]:
    """The OCSP table's rows over every answer of the profile (each row must hold for all of them)."""
    ca = artefacts.issuing
    seen: dict[str, set[str]] = {}
    problems: dict[str, list[str]] = {}
    nonce_criticality: set[str] = set()
    algorithms: set[str] = set()
    others: list[Row] = []

    def check(field: str, label: str, ok: bool, case: str = "") -> None:
        if ok:
            seen.setdefault(field, set()).add(case)
        else:
            problems.setdefault(field, []).append(f"{field} wrong in the answer {label!r}")

    for label, answer in artefacts.ocsp.items():
        response = ocsp.load_der_ocsp_response(answer.response)
        try:
            request = ocsp.load_der_ocsp_request(answer.request)
            request.serial_number  # noqa: B018 - parse errors surface lazily
        except ValueError:
            check("responseStatus", label, response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
                  "malformed")
            check("responseBytes", label, answer.response == UNSUCCESSFUL_DER[1])
            continue
        if (request.issuer_name_hash, request.issuer_key_hash) != _issuer_hashes(request.hash_algorithm, ca):
            check("responseStatus", label, response.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED,
                  "unauthorized")
            check("responseBytes", label, answer.response == UNSUCCESSFUL_DER[6])
            continue
        check("responseStatus", label, response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL,
              "successful")
        outer, _ = decoder.decode(answer.response, asn1Spec=rfc6960.OCSPResponse())
        check("responseBytes", label, outer["responseBytes"]["responseType"] == rfc6960.id_pkix_ocsp_basic)
        basic, _ = decoder.decode(outer["responseBytes"]["response"], asn1Spec=rfc6960.BasicOCSPResponse())
        # DER leaves a DEFAULT value out (X.690 11.5): re-encoding gives the same bytes only if it was left out.
        check("version", label, int(basic["tbsResponseData"]["version"]) == 0
              and encoder.encode(basic["tbsResponseData"]) == response.tbs_response_bytes)
        check("responderID", label, response.responder_name is None
              and response.responder_key_hash == hashlib.sha1(_public_key_bits(ca)).digest())
        check("producedAt", label, _time_of_issue(response.produced_at_utc, artefacts))
        check("certID", label, (response.hash_algorithm.name, response.issuer_name_hash, response.issuer_key_hash,
                                response.serial_number) == (request.hash_algorithm.name, request.issuer_name_hash,
                                                            request.issuer_key_hash, request.serial_number),
              response.hash_algorithm.name)
        record, status = answer.record, response.certificate_status
        if record is None:
            check("certStatus", label, status == ocsp.OCSPCertStatus.UNKNOWN, "unknown")
        elif record.status == "good":
            check("certStatus", label, status == ocsp.OCSPCertStatus.GOOD, "good")
        else:
            check("certStatus", label, status == ocsp.OCSPCertStatus.REVOKED
                  and response.revocation_time_utc == record.revoked_at
                  and response.revocation_reason == reason_flag(record.reason), record.status)
        check("thisUpdate", label, _time_of_issue(response.this_update_utc, artefacts))
        assert response.next_update_utc is not None
        check("nextUpdate", label, _plus(response.this_update_utc, response.next_update_utc, "thisUpdate")
              == "thisUpdate + 24 hours")
        asked = [e.value for e in request.extensions if isinstance(e.value, x509.OCSPNonce)]
        answered = [e for e in response.extensions if isinstance(e.value, x509.OCSPNonce)]
        nonce_criticality |= {_critical(e) for e in answered}
        check("nonce", label, asked == [e.value for e in answered], "sent" if asked else "none")
        others += [(_name(e.oid, EXTENSION_NAMES), repr(e.value), _critical(e))
                   for e in (*response.extensions, *response.single_extensions)
                   if not isinstance(e.value, x509.OCSPNonce)]
        algorithms.add(_name(response.signature_algorithm_oid, SIGNATURE_NAMES))
        check("certs", label, response.certificates == [])

    def row(field: str, phrase: str, needed: Iterable[str] = ("",), critical: str = "–") -> Row:
        return field, _verdict(phrase, problems.get(field, []), seen.get(field, set()), needed), critical

    return [
        row("responseStatus", "successful; malformedRequest for a request it cannot read; unauthorized for a "
            "certificate of another issuer", ("successful", "malformed", "unauthorized")),
        row("responseBytes", "id-pkix-ocsp-basic; left out when unsuccessful"),
        row("version", "v1 (the default, so left out)"),
        row("responderID", "byKey: SHA-1 of the CA's subjectPublicKey bits"),
        row("producedAt", "time of the answer"),
        row("certID", "as in the request (SHA-1 or SHA-256)", ("sha1", "sha256")),
        row("certStatus", "good; revoked with revocationTime and revocationReason (certificateHold while on "
            "hold); unknown when the CA has no record of it", ("good", "revoked", "hold", "unknown")),
        row("thisUpdate", "time of the answer"),
        row("nextUpdate", "thisUpdate + 24 hours"),
        row("nonce", "the request's nonce, when it sends one", ("sent", "none"), "/".join(sorted(nonce_criticality))),
        ("signatureAlgorithm", " and ".join(sorted(algorithms)), "–"),
        row("certs", "left out: the CA signs its own answers"),
        *others,
    ]


# --- the comparison -------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=ALGORITHMS)
def artefacts(request, tmp_path_factory) -> Artefacts:
    return make_artefacts(tmp_path_factory.mktemp(request.param), request.param, MemoryRegistry().factory())


def _kind_of(label: str) -> str:
    return next(word for word in label.split() if word in KINDS)


def _agree(heading: str, profile: str, what: str, rows: list[Row],
           tables: dict[str, list[dict[str, str]]] = TABLES) -> None:
    doc = documented(tables, heading, profile)
    if rows != doc:
        lines = [f"  doc:    {d}\n  issued: {r}" for d, r in zip(doc, rows, strict=False) if d != r]
        lines += [f"  doc only:    {d}" for d in doc[len(rows):]] + [f"  issued only: {r}" for r in rows[len(doc):]]
        pytest.fail(f"docs/certificate-profile.md, {heading!r}, disagrees with {what} ({profile}):\n"
                    + "\n".join(lines))


def test_the_document_has_exactly_these_tables():
    assert set(TABLES) == {"Profiles", "Root CA certificate", "Issuing CA certificate", "Card certificates",
                           "CRLs", "CRL entries", "OCSP responses"}


def test_every_profile_has_its_row_and_no_other():
    """An algorithm added to the CA (SM2 one day) fails here until the document describes it."""
    assert set(profile_table(TABLES)) == set(ALGORITHMS)


def test_every_row_cites_its_clause():
    for heading, rows in TABLES.items():
        for row in rows:
            assert CLAUSE.search(row["RFC clause"]), f"{heading}: {row} cites no RFC clause"


def test_ca_certificates(artefacts):
    _agree("Root CA certificate", artefacts.algorithm, "the root CA certificate",
           certificate_rows(artefacts, artefacts.root, artefacts.root, "root CA"))
    _agree("Issuing CA certificate", artefacts.algorithm, "the issuing CA certificate",
           certificate_rows(artefacts, artefacts.issuing, artefacts.root, "root CA"))


def test_card_certificates_of_every_kind_new_renewed_held_and_released(artefacts):
    assert {_kind_of(label) for label in artefacts.cards} == set(KINDS)
    for label, (issuer, certificate) in artefacts.cards.items():
        _agree("Card certificates", artefacts.algorithm, f"the {label} certificate",
               certificate_rows(artefacts, certificate, issuer, "issuing CA", _kind_of(label)))


def test_crls(artefacts):
    previous: dict[bytes, int] = {}
    for label, crl in artefacts.crls.items():
        issuer = artefacts.root if crl.issuer == artefacts.root.subject else artefacts.issuing
        key = issuer.subject.public_bytes()
        _agree("CRLs", artefacts.algorithm, f"the CRL {label}",
               crl_rows(artefacts, crl, issuer, artefacts.crl_records[label], previous.get(key, 0)))
        previous[key] = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def test_crl_entries(artefacts):
    _agree("CRL entries", artefacts.algorithm, "the CRL entries", crl_entry_rows(artefacts))


def test_ocsp_responses(artefacts):
    _agree("OCSP responses", artefacts.algorithm, "the OCSP answers", ocsp_rows(artefacts))


def test_the_comparison_fails_when_the_document_is_wrong(artefacts):
    """A row changed in the document (here: extKeyUsage given codeSigning) is caught."""
    changed = {heading: [dict(row) for row in rows] for heading, rows in TABLES.items()}
    for row in changed["Card certificates"]:
        if row["field / extension"] == "extKeyUsage":
            row["value"] += ", id-kp-codeSigning"
    label, (issuer, certificate) = next(iter(artefacts.cards.items()))
    with pytest.raises(pytest.fail.Exception, match="extKeyUsage"):
        _agree("Card certificates", artefacts.algorithm, label,
               certificate_rows(artefacts, certificate, issuer, "issuing CA", _kind_of(label)), changed)
