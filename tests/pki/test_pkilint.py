"""pkilint (DigiCert's RFC 5280 / RFC 6960 linter, https://github.com/digicert/pkilint) judges every artefact
the CA makes, for every profile (``core.pki.signer.ALGORITHMS``) and card kind, on SQLite and PostgreSQL:
the CA certificates, card certificates new, renewed, on hold and released, CRLs, OCSP answers (good,
revoked, on hold, unknown, refused) and each issuer / subject pair. No finding at WARNING or above; every
finding below that is either fixed or listed in ``ACCEPTED`` with its reason.

The linters are pkilint's own command-line programs: ``main(argv)`` of each ``pkilint.bin`` module in this
process (the same argument parsing, validators and JSON report as the console scripts), and the console
scripts themselves as CI runs them.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pki_artefacts import Artefacts, make_artefacts
from pkilint.bin import lint_crl, lint_ocsp_response, lint_pkix_cert, lint_pkix_signer_signee_cert_chain

from core.pki.registry import MemoryRegistry, store_registry_factory
from core.pki.signer import ALGORITHMS

# Findings below WARNING that stand, by pkilint finding code, with the reason they stand.
ACCEPTED: dict[str, str] = {
    "pkix.subject_key_identifier_method_1_identified":
        "INFO: pkilint only names the method it recognised. The subjectKeyIdentifier is the SHA-1 of the "
        "subjectPublicKey BIT STRING, method (1) of RFC 5280 4.2.1.2, which is what the RFC recommends.",
}

# Findings a profile's artefacts may carry because pkilint cannot decode that profile's algorithms:
# (profile, finding code) -> reason. pkilint decodes RSA-2048 and ECDSA P-256 fully. Of the SM2 profile it reads
# and lints every structure (names, extensions, the SM2 SubjectPublicKeyInfo, CRLs, OCSP answers) and stops only
# where a signature must be checked: its signer/signee chain linter cannot verify SM2-with-SM3.
UNDECODABLE: dict[tuple[str, str], str] = {
    ("sm2", "pkix.unsupported_algorithm"):
        "NOTICE at certificate.signature of every issuer -> subject pair: pkilint (0.13) verifies RSA and ECDSA "
        "signatures only, so it cannot check an SM2-with-SM3 one. Those signatures are checked with the OpenSSL "
        "command line and the GM/T 0009 ID instead (tests/pki/test_pki_sm2.py).",
}

BLOCKING = frozenset({"FATAL", "ERROR", "WARNING"})
CRL_OPTIONS = ("-t", "CRL", "-p", "PKIX")  # a CRL (not an ARL), RFC 5280 profile


@frozen
class Finding:
    artefact: str
    node_path: str
    severity: str
    code: str
    message: str | None

    def __str__(self) -> str:
        return f"{self.artefact}: {self.severity} {self.code} at {self.node_path}" + \
            (f": {self.message}" if self.message else "")


def lint(main: Callable[[list[str]], int], artefact: str, *args: str | Path) -> list[Finding]:
    """Run one pkilint program at its lowest threshold (DEBUG: every finding) with a JSON report."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        exit_code = main(["lint", "-s", "DEBUG", "-f", "JSON", *map(str, args)])
    if not out.getvalue().strip():
        pytest.fail(f"pkilint could not read {artefact}: {err.getvalue()}")
    findings = [Finding(artefact, result["node_path"], finding["severity"], finding["code"], finding["message"])
                for result in json.loads(out.getvalue())["results"] for finding in result["finding_descriptions"]]
    assert (exit_code == 0) == (not findings), f"pkilint's exit code disagrees with its report on {artefact}"
    return findings


def _der(item: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return item.public_bytes(serialization.Encoding.DER)


def lint_everything(artefacts: Artefacts, folder: Path) -> Iterator[Finding]:
    names = itertools.count()

    def saved(data: bytes) -> Path:
        path = folder / f"{next(names)}.der"
        path.write_bytes(data)
        return path

    root, issuing = saved(_der(artefacts.root)), saved(_der(artefacts.issuing))
    yield from lint(lint_pkix_cert.main, "root CA certificate", root)
    yield from lint(lint_pkix_cert.main, "issuing CA certificate", issuing)
    yield from lint(lint_pkix_signer_signee_cert_chain.main, "root -> issuing CA", root, issuing)
    for label, (issuer, certificate) in artefacts.cards.items():
        card = saved(_der(certificate))
        yield from lint(lint_pkix_cert.main, f"{label} certificate", card)
        yield from lint(lint_pkix_signer_signee_cert_chain.main, f"issuer -> {label}", saved(_der(issuer)), card)
    for label, crl in artefacts.crls.items():
        yield from lint(lint_crl.main, f"CRL {label}", *CRL_OPTIONS, saved(_der(crl)))
    for label, answer in artefacts.ocsp.items():
        yield from lint(lint_ocsp_response.main, f"OCSP {label}", saved(answer.response))


def judge(findings: list[Finding], profile: str) -> tuple[list[Finding], set[str]]:
    """(findings that fail the profile, codes of the ACCEPTED / UNDECODABLE entries that were seen)."""
    failing, seen = [], set()
    for finding in findings:
        accepted = finding.severity not in BLOCKING and finding.code in ACCEPTED
        if accepted or (profile, finding.code) in UNDECODABLE:
            seen.add(finding.code)
        else:
            failing.append(finding)
    return failing, seen


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> Artefacts:
    """One profile's artefacts, kept in memory, for the tests that need not run on every profile."""
    return make_artefacts(tmp_path_factory.mktemp("ca"), ALGORITHMS[0], MemoryRegistry().factory())


@pytest.mark.parametrize("profile", ALGORITHMS)
def test_every_artefact_lints_clean(tmp_path, store, profile):
    artefacts = make_artefacts(tmp_path / "ca", profile, store_registry_factory(store))
    (tmp_path / "lint").mkdir()
    failing, seen = judge(list(lint_everything(artefacts, tmp_path / "lint")), profile)
    assert not failing, "pkilint findings:\n" + "\n".join(map(str, failing))
    expected = set(ACCEPTED) | {code for (p, code) in UNDECODABLE if p == profile}
    assert seen == expected, f"listed but never seen (remove them): {sorted(expected - seen)}"


def test_hold_and_release_leave_the_certificate_as_issued(artefacts):
    """The status lives in the CRL and OCSP: the stored certificate is the same at every moment."""
    as_issued = artefacts.cards["operator"][1]
    assert artefacts.cards["operator on hold"][1] == as_issued == artefacts.cards["operator released"][1]


def test_the_judge_rejects_the_old_subject_and_its_renewal_is_clean(tmp_path, artefacts):
    """What the linter said of certificates before the fix: the UTF8String serialNumber is a FATAL."""
    legacy = tmp_path / "legacy.der"
    legacy.write_bytes(_der(artefacts.legacy))
    findings = lint(lint_pkix_cert.main, "certificate issued before the fix", legacy)
    fatal = [f for f in findings if f.severity == "FATAL"]
    assert [(f.code, f.node_path) for f in fatal] == \
        [("itu.invalid_asn1_syntax", "certificate.tbsCertificate.subject.rdnSequence.5.0")]
    assert "X520SerialNumber" in (fatal[0].message or "")
    renewed = tmp_path / "renewed.der"
    renewed.write_bytes(_der(artefacts.cards["legacy legal renewed"][1]))
    assert judge(lint(lint_pkix_cert.main, "its renewal", renewed), ALGORITHMS[0])[0] == []


def _console_script(name: str) -> str:
    """pip puts console scripts beside the interpreter that installed them; PATH otherwise."""
    beside = Path(sys.executable).with_name(name)
    path = str(beside) if beside.exists() else shutil.which(name)
    if path is None:  # never skip: the linter is part of the test extra
        pytest.fail(f"pkilint's {name} is not installed: install the test extra (pip install -e '.[test]')")
    return path


def test_console_scripts_pass_at_the_ci_threshold(tmp_path, artefacts):
    """The console scripts as CI runs them: exit status 0 means no finding at WARNING or above."""
    files = {}
    for name, data in {"issuing": _der(artefacts.issuing), "card": _der(artefacts.cards["legal"][1]),
                       "crl": _der(artefacts.crls["held and revoked"]), "ocsp": artefacts.ocsp["on hold"].response,
                       "old": _der(artefacts.legacy)}.items():
        files[name] = tmp_path / f"{name}.der"
        files[name].write_bytes(data)
    runs = {
        "lint_pkix_cert": [files["card"]],
        "lint_crl": [*CRL_OPTIONS, files["crl"]],
        "lint_ocsp_response": [files["ocsp"]],
        "lint_pkix_signer_signee_cert_chain": [files["issuing"], files["card"]],
    }
    for script, args in runs.items():
        result = subprocess.run([_console_script(script), "lint", "-s", "WARNING", *map(str, args)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{script}: {result.stdout}{result.stderr}"
    old = subprocess.run([_console_script("lint_pkix_cert"), "lint", "-s", "WARNING", str(files["old"])],
                         capture_output=True, text=True, timeout=120)
    assert old.returncode != 0 and "X520SerialNumber" in old.stdout
