"""The CA key on a PKCS#11 token (SoftHSM2) against the same CA work with the key in a file, measured in the
same run and printed as ratios (no assertions).

    python bench/bench_hsm.py [--quick]

1. Issuance: CertificateAuthority.issue with the key on the token / with the key file (certificates per
   second; ratio = token / file). The token signs the digest only; the rest is the same code.
2. OCSP answers (OcspResponder.respond, in memory, each request with a nonce so each is signed) the same way.
3. A CRL of 10,000 revoked entries (time; ratio = token / file, lower is better): the token signs one
   digest, so the list's size costs the same on both.

Makes its own SoftHSM2 folder and token (scripts/install-system.sh installs softhsm2).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_pki import PASSPHRASE, SETTINGS, SUBJECT, best_rates
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from core.model import CardKind
from core.pki.ca import CertificateAuthority, new_serial, record_for
from core.pki.crl import build_crl
from core.pki.ocsp import OcspResponder
from core.pki.pkcs11 import Pkcs11Signer, TokenKey
from core.pki.profiles import profile_for
from core.pki.registry import CertificateRecord, MemoryRegistry
from core.pki.signer import generate_key
from core.pki.softhsm import SoftHsm

QUICK = "--quick" in sys.argv


def pair(workdir: Path, rig: SoftHsm, algorithm: str) -> tuple[CertificateAuthority, CertificateAuthority]:
    """(file, token): two CAs of the same algorithm and name."""
    on_file = CertificateAuthority.init(workdir / f"file-{algorithm}", "Bench CA", PASSPHRASE, algorithm)
    signer = Pkcs11Signer.generate(TokenKey(rig.module, "eportcard-ca", f"bench-{algorithm}"), rig.pin, algorithm)
    on_token = CertificateAuthority.init(workdir / f"token-{algorithm}", "Bench CA", "", algorithm, signer=signer)
    return on_file, on_token


def ratio_line(name: str, rates: dict[str, float]) -> str:
    return (f"{name:18s} file {rates['file']:8.0f}/s   token {rates['token']:8.0f}/s   "
            f"ratio {rates['token'] / rates['file']:.2f}")


@contextmanager
def registry_of(registry: MemoryRegistry):
    yield registry


def bench(workdir: Path, rig: SoftHsm) -> None:
    count, rounds = (20, 2) if QUICK else (100, 3)
    print("== the CA key on a SoftHSM2 token vs in a file (per second; ratio = token / file, 1.00 = as fast) ==")
    for algorithm in ("ec-p256", "rsa2048"):
        on_file, on_token = pair(workdir, rig, algorithm)
        profile = profile_for("legal", SETTINGS, algorithm)
        holder = generate_key(algorithm).public_key()
        rates = best_rates({name: (lambda ca=ca, p=profile, h=holder: ca.issue(p, SUBJECT, public_key=h))
                            for name, ca in (("file", on_file), ("token", on_token))}, count, rounds)
        print(ratio_line(f"issue {algorithm}", rates))

        responders, requests = {}, {}
        for name, ca in (("file", on_file), ("token", on_token)):
            card = ca.issue(profile, SUBJECT, public_key=holder)
            registry = MemoryRegistry()
            registry.add(record_for(card))
            responders[name] = OcspResponder(ca, lambda r=registry: registry_of(r))
            # With a nonce every answer is signed anew (answers without one are kept and sent again).
            requests[name] = (ocsp.OCSPRequestBuilder().add_certificate(card, ca.certificate, hashes.SHA1())
                              .add_extension(x509.OCSPNonce(os.urandom(16)), critical=False)
                              .build().public_bytes(serialization.Encoding.DER))
        rates = best_rates({name: (lambda r=responders[name], q=requests[name]: r.respond(q))
                            for name in responders}, count, rounds)
        print(ratio_line(f"ocsp {algorithm}", rates))

    size = 2_000 if QUICK else 10_000
    file_ca = CertificateAuthority.init(workdir / "crl-file", "Bench CRL CA", PASSPHRASE, "rsa2048")
    token_ca = CertificateAuthority.init(
        workdir / "crl-token", "Bench CRL CA", "", "rsa2048",
        signer=Pkcs11Signer.generate(TokenKey(rig.module, "eportcard-ca", "bench-crl"), rig.pin, "rsa2048"))
    now = datetime.now(UTC).replace(microsecond=0)
    registry = MemoryRegistry(
        CertificateRecord(serial=format(new_serial(), "x"), card_id="", enterprise_uscc=SUBJECT.uscc,
                          kind=CardKind.LEGAL, subject="", not_before=now, not_after=now, pem="", status="revoked",
                          reason="keyCompromise", revoked_at=now) for _ in range(size))
    times = {}
    for name, ca in (("file", file_ca), ("token", token_ca)):
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            build_crl(ca, registry, crl_number=1)
            best = min(best, time.perf_counter() - start)
        times[name] = best
    print(f"crl {size:,} entries   file {times['file']:6.3f} s   token {times['token']:6.3f} s   "
          f"ratio {times['token'] / times['file']:.2f} (time; lower is better)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rig = SoftHsm.make(Path(tmp) / "softhsm", ("eportcard-ca",))
        os.environ["SOFTHSM2_CONF"] = str(rig.conf)  # before the module is first loaded
        bench(Path(tmp), rig)


if __name__ == "__main__":
    main()
