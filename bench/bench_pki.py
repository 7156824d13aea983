"""PKI benchmarks, printed as ratios against baselines measured in the same run (no assertions).

    python bench/bench_pki.py [--quick]

1. Issuance: CertificateAuthority.issue (profile, subject, extensions, registry record) against a
   raw cryptography loop that builds and signs the same certificate with the same key type.
   Target: ratio >= 0.8.
2. CRL of 100,000 revoked entries: build_crl from a registry against cryptography's bare
   CertificateRevocationListBuilder given the same entries; also the naive add_revoked_certificate
   loop on a smaller list, which copies the list on every call (why build_crl passes it in one go).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import AuthorityInformationAccessOID

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.model import CardKind
from core.pki.ca import CertificateAuthority, new_serial
from core.pki.crl import build_crl
from core.pki.profiles import HolderSubject, ProfileSettings, profile_for
from core.pki.registry import CertificateRecord, MemoryRegistry
from core.pki.signer import generate_key

QUICK = "--quick" in sys.argv
SUBJECT = HolderSubject("深圳市某某进出口有限公司", "91440300MA5EXAMPLA", "张三")
SETTINGS = ProfileSettings(base_url="http://127.0.0.1:8000")
PASSPHRASE = "bench CA key passphrase"  # strong enough for FileSigner.create


def rate(func, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        func()
    return count / (time.perf_counter() - start)


def best_rates(candidates: dict[str, object], count: int, rounds: int) -> dict[str, float]:
    """Interleave the candidates round by round and keep each one's best rate (less noise)."""
    best = dict.fromkeys(candidates, 0.0)
    for _ in range(rounds):
        for name, func in candidates.items():
            best[name] = max(best[name], rate(func, count))
    return best


def raw_issue(ca_key, ca_cert: x509.Certificate, public_key, profile):
    """The same certificate, straight from cryptography: what issue() costs at the very least."""
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(SUBJECT.x509_name(CardKind.LEGAL)).issuer_name(ca_cert.subject)
        .public_key(public_key).serial_number(new_serial())
        .not_valid_before(now).not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(profile.key_usage_extension(), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(profile.extended_key_usages)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(profile.crl_url)], None, None, None)]), critical=False)
        .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(profile.ocsp_url))]),
            critical=False)
    )
    return builder.sign(ca_key, hashes.SHA256())


def bench_issuance(workdir: Path) -> None:
    print("== issuance (certificates per second; ratio = eportcard / raw cryptography) ==")
    for algorithm in ("rsa2048", "ec-p256"):
        bench_issuance_for(workdir, algorithm)


def bench_issuance_for(workdir: Path, algorithm: str) -> None:
    ca = CertificateAuthority.init(workdir / f"ca-{algorithm}", "Bench CA", PASSPHRASE, algorithm)
    ca_key = ca.signer._key  # the raw loop signs with the very same key object
    profile = profile_for("legal", SETTINGS, algorithm)
    holder = generate_key(algorithm).public_key()
    registry = MemoryRegistry()
    count = 30 if QUICK else 150
    rates = best_rates({
        "raw": lambda: raw_issue(ca_key, ca.certificate, holder, profile),
        "issue": lambda: ca.issue(profile, SUBJECT, public_key=holder),
        "issue+record": lambda: ca.issue(profile, SUBJECT, public_key=holder, registry=registry),
    }, count, rounds=2 if QUICK else 3)
    print(f"{algorithm:8s} raw {rates['raw']:8.0f}/s   issue {rates['issue']:8.0f}/s "
          f"(ratio {rates['issue'] / rates['raw']:.2f})   issue+record {rates['issue+record']:8.0f}/s "
          f"(ratio {rates['issue+record'] / rates['raw']:.2f})   target >= 0.80")


def bench_crl(workdir: Path) -> None:
    size = 10_000 if QUICK else 100_000
    print(f"== CRL with {size:,} revoked entries ==")
    ca = CertificateAuthority.init(workdir / "ca-crl", "Bench CRL CA", PASSPHRASE, "rsa2048")
    now = datetime.now(UTC).replace(microsecond=0)
    reasons = ["keyCompromise", "superseded", "cessationOfOperation", "certificateHold"]
    serials = [new_serial() for _ in range(size)]
    registry = MemoryRegistry(
        CertificateRecord(serial=format(s, "x"), card_id="", enterprise_uscc=SUBJECT.uscc,
                          kind=CardKind.LEGAL, subject="", not_before=now, not_after=now, pem="",
                          status="hold" if i % 4 == 3 else "revoked", reason=reasons[i % 4], revoked_at=now)
        for i, s in enumerate(serials))

    def bare(entries_serials: list[int], naive: bool = False) -> x509.CertificateRevocationList:
        flags = [x509.ReasonFlags(r) for r in reasons]
        entries = [x509.RevokedCertificateBuilder().serial_number(s).revocation_date(now)
                   .add_extension(x509.CRLReason(flags[i % 4]), critical=False).build()
                   for i, s in enumerate(entries_serials)]
        builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.certificate.subject)
                   .last_update(now).next_update(now + timedelta(days=1)))
        if naive:
            for entry in entries:
                builder = builder.add_revoked_certificate(entry)
        else:
            builder = x509.CertificateRevocationListBuilder(
                ca.certificate.subject, now, now + timedelta(days=1), [], entries)
        return builder.sign(ca.signer._key, hashes.SHA256())

    def timed(func) -> float:
        start = time.perf_counter()
        func()
        return time.perf_counter() - start

    rounds = 2
    ours = min(timed(lambda: build_crl(ca, registry, crl_number=1)) for _ in range(rounds))
    base = min(timed(lambda: bare(serials)) for _ in range(rounds))
    print(f"build_crl {ours:6.2f} s   bare builder (same entries, list in one go) {base:6.2f} s   "
          f"ratio {ours / base:.2f} (time; lower is better)")
    small = serials[: size // 10]
    naive = timed(lambda: bare(small, naive=True))
    one_go = timed(lambda: bare(small))
    print(f"naive add_revoked_certificate loop on {len(small):,} entries {naive:6.2f} s vs list in one go "
          f"{one_go:6.2f} s (ratio {naive / one_go:.1f})")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench_issuance(Path(tmp))
        bench_crl(Path(tmp))


if __name__ == "__main__":
    main()
