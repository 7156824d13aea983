"""Issue #17 items 2 and 3: the CA key on a real SoftHSM2 token. Every artefact the CA signs there
(card certificate, renewal, CRL, OCSP response) verifies with the openssl CLI; the key cannot be read
out or wrapped; sessions are reused, survive the module dropping them or the login (one login again,
then a clear error), and several processes and threads sign at once."""

from __future__ import annotations

import multiprocessing
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from openssl_cli import openssl, write_pem
from outside import Outside
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11

from core.errors import ConfigError, InvalidInput, Unavailable
from core.pki.ca import CertificateAuthority, serial_hex
from core.pki.crl import build_crl
from core.pki.ocsp import OcspResponder
from core.pki.pkcs11 import Pkcs11Signer, TokenKey, token_info
from core.pki.profiles import HolderSubject, ProfileSettings, profile_for
from core.pki.registry import MemoryRegistry
from core.pki.revocation import revoke
from core.pki.signer import generate_key
from core.pki.softhsm import SoftHsm

SUBJECT = HolderSubject(enterprise_name="深圳市某某进出口有限公司", uscc="91440300MA5EXAMPLA",
                        holder_name="张三", holder_id_masked="4403**********1234")
TOKEN = "eportcard-ca"


def label() -> str:
    return f"ca-{secrets.token_hex(4)}"


@pytest.fixture(params=["ec-p256", "rsa2048"])
def algorithm(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def where(softhsm: SoftHsm) -> TokenKey:
    return TokenKey(softhsm.module, TOKEN, label())


@pytest.fixture
def signer(softhsm: SoftHsm, where: TokenKey, algorithm: str) -> Pkcs11Signer:
    return Pkcs11Signer.generate(where, softhsm.pin, algorithm)


def _verify(public_key: object, signature: bytes, data: bytes) -> None:
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr]


# ---- the key stays on the token --------------------------------------------------------------------------------


def test_the_key_is_sensitive_and_never_extractable(softhsm: SoftHsm, signer: Pkcs11Signer):
    assert signer.key_attributes() == {"sensitive": True, "extractable": False, "always_sensitive": True,
                                       "never_extractable": True}
    # And trying: read the secret value, wrap it under a key of our own. The token refuses both.
    token = pkcs11.lib(softhsm.module).get_token(token_label=TOKEN)
    with token.open(rw=True) as session:  # this process is logged in (the signer): login is per process
        private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=signer.where.key_label)
        secret = Attribute.VALUE if private.key_type == KeyType.EC else Attribute.PRIVATE_EXPONENT
        with pytest.raises(p11.AttributeSensitive):
            private[secret]
        wrapping = session.generate_key(KeyType.AES, 256, capabilities=MechanismFlag.WRAP | MechanismFlag.ENCRYPT)
        with pytest.raises((p11.KeyUnextractable, p11.KeyNotWrappable)):
            wrapping.wrap_key(private, mechanism=Mechanism.AES_KEY_WRAP_PAD)


def test_an_exportable_key_is_refused(softhsm: SoftHsm, signer: Pkcs11Signer):
    where = TokenKey(softhsm.module, TOKEN, label())
    token = pkcs11.lib(softhsm.module).get_token(token_label=TOKEN)
    with token.open(rw=True) as session:  # logged in through the signer
        session.generate_keypair(KeyType.RSA, 2048, store=True, label=where.key_label,
                                 private_template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True})
    with pytest.raises(InvalidInput, match="can be exported") as refused:
        Pkcs11Signer.open(where, softhsm.pin)
    assert refused.value.field == "pki.pkcs11_key_label" and "可以导出" in str(refused.value)


def test_a_label_in_use_is_not_generated_over(softhsm: SoftHsm, signer: Pkcs11Signer, algorithm: str):
    with pytest.raises(InvalidInput, match="--existing-key"):
        Pkcs11Signer.generate(signer.where, softhsm.pin, algorithm)
    token = pkcs11.lib(softhsm.module).get_token(token_label=TOKEN)
    with token.open() as session:
        assert len(list(session.get_objects({Attribute.LABEL: signer.where.key_label}))) == 2  # one pair, unchanged
    opened = Pkcs11Signer.open(signer.where, softhsm.pin)
    assert opened.algorithm == algorithm and opened.public_key().public_numbers() == signer.public_key().public_numbers()


@pytest.mark.parametrize(("change", "error", "words"), [
    (lambda w, pin: (w, "not-the-pin"), ConfigError, ("wrong PIN", "PIN 错误")),
    (lambda w, pin: (TokenKey(w.module, TOKEN, "no-such-key"), pin), InvalidInput, ("no key labelled 'no-such-key'",)),
    (lambda w, pin: (TokenKey(w.module, "no-such-token", w.key_label), pin), Unavailable, ("no token labelled",)),
    (lambda w, pin: (TokenKey("/usr/lib/x86_64-linux-gnu/libc.so.6", TOKEN, w.key_label), pin), ConfigError,
     ("cannot load the PKCS#11 module",)),
])
def test_opening_refuses_clearly(softhsm: SoftHsm, signer: Pkcs11Signer, change, error, words):
    where, pin = change(signer.where, softhsm.pin)
    with pytest.raises(error) as refused:
        Pkcs11Signer.open(where, pin)
    assert " / " in str(refused.value)
    for word in words:
        assert word in str(refused.value)
    assert "not-the-pin" not in str(refused.value)


def test_a_public_key_that_is_not_the_tokens_is_refused(softhsm: SoftHsm, signer: Pkcs11Signer, algorithm: str):
    with pytest.raises(InvalidInput, match="not the CA certificate's"):
        Pkcs11Signer.open(signer.where, softhsm.pin, generate_key(algorithm).public_key())


# ---- a CA on the token: every artefact verifies with openssl ---------------------------------------------------


def test_every_artefact_signed_on_the_token_verifies_with_openssl(tmp_path: Path, signer: Pkcs11Signer,
                                                                   algorithm: str):
    ca = CertificateAuthority.init(tmp_path / "ca", "电子口岸HSM测试CA", "", algorithm, signer=signer)
    assert not (tmp_path / "ca" / "ca.key.pem").exists()
    registry = MemoryRegistry()
    profile = profile_for("legal", ProfileSettings(base_url="http://127.0.0.1:8000"), algorithm)
    card_key = generate_key(algorithm)
    card = ca.issue(profile, SUBJECT, public_key=card_key.public_key(), registry=registry, card_id="card-1")
    renewed = ca.renew(card, registry=registry)
    ca_pem, leaf, again = tmp_path / "ca.pem", tmp_path / "leaf.pem", tmp_path / "renewed.pem"
    write_pem(ca_pem, ca.certificate), write_pem(leaf, card), write_pem(again, renewed)
    openssl("verify", "-x509_strict", "-CAfile", ca_pem, leaf)
    openssl("verify", "-x509_strict", "-CAfile", ca_pem, again)

    revoke(registry, serial_hex(card.serial_number), "key_compromise")
    crl = build_crl(ca, registry)
    crl_pem = write_pem(tmp_path / "crl.pem", crl)
    assert b"verify OK" in openssl("crl", "-in", crl_pem, "-noout", "-CAfile", ca_pem).stderr
    refused = openssl("verify", "-crl_check", "-CAfile", ca_pem, "-CRLfile", crl_pem, leaf, check=False)
    assert refused.returncode != 0 and b"certificate revoked" in refused.stdout + refused.stderr
    openssl("verify", "-crl_check", "-CAfile", ca_pem, "-CRLfile", crl_pem, again)

    request = ocsp.OCSPRequestBuilder().add_certificate(renewed, ca.certificate, hashes.SHA1()).build()
    answer = OcspResponder(ca, lambda: _Registry(registry)).respond(request.public_bytes(serialization.Encoding.DER))
    (tmp_path / "resp.der").write_bytes(answer)
    checked = openssl("ocsp", "-respin", tmp_path / "resp.der", "-issuer", ca_pem, "-CAfile", ca_pem, "-cert", again)
    assert b"Response verify OK" in checked.stderr and b": good" in checked.stdout


class _Registry:
    """The registry as the responder's factory hands it out (a context manager)."""

    def __init__(self, registry: MemoryRegistry) -> None:
        self.registry = registry

    def __enter__(self) -> MemoryRegistry:
        return self.registry

    def __exit__(self, *exc: object) -> None:
        return None


def test_an_issuing_ca_on_the_token_under_a_file_root(tmp_path: Path, softhsm: SoftHsm, signer: Pkcs11Signer,
                                                      algorithm: str):
    root = CertificateAuthority.init(tmp_path / "root", "电子口岸测试根CA", "correct horse battery staple", algorithm)
    issuing = CertificateAuthority.init(tmp_path / "issuing", "电子口岸HSM发卡CA", "", algorithm, root=root,
                                        signer=signer)
    card = issuing.issue(profile_for("operator", ProfileSettings(base_url="http://127.0.0.1:8000"), algorithm),
                         SUBJECT, public_key=generate_key(algorithm).public_key())
    openssl("verify", "-CAfile", write_pem(tmp_path / "root.pem", root.certificate),
            "-untrusted", write_pem(tmp_path / "issuing.pem", issuing.certificate),
            write_pem(tmp_path / "card.pem", card))
    reopened = CertificateAuthority.open(tmp_path / "issuing", Pkcs11Signer.open(signer.where, softhsm.pin))
    assert reopened.chain == (root.certificate,)


# ---- sessions: pooled, and recovered once ------------------------------------------------------------------------


def test_signatures_reuse_one_login(signer: Pkcs11Signer):
    logins = signer.logins
    for _ in range(50):
        data = secrets.token_bytes(64)
        _verify(signer.public_key(), signer.sign_bytes(data), data)
    assert signer.logins == logins


@pytest.mark.parametrize("drop", ["close_all_sessions", "logout"])
def test_a_dropped_session_or_login_is_logged_in_again_once(softhsm: SoftHsm, signer: Pkcs11Signer, drop: str):
    logins = signer.logins
    getattr(Outside(softhsm.module, TOKEN), drop)()
    data = b"after the token restarted"
    _verify(signer.public_key(), signer.sign_bytes(data), data)
    assert signer.logins == logins + 1
    signer.sign_bytes(data)
    assert signer.logins == logins + 1


def test_a_login_that_cannot_be_made_again_is_one_clear_error(softhsm: SoftHsm, signer: Pkcs11Signer):
    outside = Outside(softhsm.module, TOKEN)
    outside.change_pin(softhsm.pin, "changed-by-the-officer")
    try:
        outside.close_all_sessions()
        with pytest.raises(ConfigError, match="wrong PIN") as refused:
            signer.sign_bytes(b"data")
        assert "changed-by-the-officer" not in str(refused.value) and softhsm.pin not in str(refused.value)
    finally:  # the officer puts it back
        outside.close_all_sessions()
        outside.login("changed-by-the-officer")
        outside.change_pin("changed-by-the-officer", softhsm.pin)
        outside.close_all_sessions()
    data = b"the PIN is back"
    _verify(signer.public_key(), signer.sign_bytes(data), data)


def _sign_where_the_token_went(conf: str, module: str, pin: str, key_label: str, folder: str) -> tuple[str, str]:
    """In a process of its own (its tokens are not the test process's): sign, lose the token, sign; and
    what the OCSP responder answers then."""
    import os

    os.environ["SOFTHSM2_CONF"] = conf
    rig = SoftHsm(Path(conf).parent)
    signer = Pkcs11Signer.generate(TokenKey(module, "eportcard-ca", key_label), pin, "ec-p256")
    ca = CertificateAuthority.init(Path(folder), "电子口岸HSM测试CA", "", "ec-p256", signer=signer)
    card = ca.issue(profile_for("legal", ProfileSettings(base_url="http://127.0.0.1:8000"), "ec-p256"), SUBJECT,
                    public_key=generate_key("ec-p256").public_key())
    request = (ocsp.OCSPRequestBuilder().add_certificate(card, ca.certificate, hashes.SHA1())
               .add_extension(x509.OCSPNonce(b"a fresh answer, please"), critical=False).build()
               .public_bytes(serialization.Encoding.DER))
    rig.delete_token("eportcard-ca")  # its sessions and objects go with it
    try:
        signer.sign_bytes(b"after")
        outcome = "signed without a token"
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    answer = ocsp.load_der_ocsp_response(OcspResponder(ca, lambda: _Registry(MemoryRegistry())).respond(request))
    return outcome, answer.response_status.name


def test_a_token_that_is_gone_is_one_clear_error(tmp_path: Path, softhsm: SoftHsm):
    private = SoftHsm.make(tmp_path / "own", ("eportcard-ca",))
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        outcome, ocsp_status = pool.apply(_sign_where_the_token_went, (str(private.conf), private.module, private.pin,
                                                                       label(), str(tmp_path / "ca")))
    assert outcome.startswith("Unavailable: "), outcome
    assert "still fails after logging in again" in outcome and "HSM or token is online" in outcome
    assert "重新登录后仍无法使用" in outcome
    assert ocsp_status == "TRY_LATER"  # RFC 6960 2.3: the responder cannot sign now


# ---- at once: threads and worker processes ----------------------------------------------------------------------


def test_threads_sign_at_once(signer: Pkcs11Signer):
    messages = [secrets.token_bytes(32) for _ in range(64)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        signatures = list(pool.map(signer.sign_bytes, messages))
    for message, signature in zip(messages, signatures, strict=True):
        _verify(signer.public_key(), signature, message)


# Workers answer with a signature or the error's text: an EportError does not cross a process boundary
# (it does not unpickle), and a pool whose result cannot be read waits for ever.
# An initializer that raised would make the pool start workers for ever: it keeps the error instead.
_worker_signer: Pkcs11Signer | None = None
_worker_error = ""


def _log_in_forked(lock) -> None:
    # SoftHSM2's file store rewrites the token file at each login, so logins at the same instant from
    # several processes can read it half-written; a real HSM has no such file. They log in one by one,
    # then sign at once.
    global _worker_error
    with lock:
        try:
            assert _worker_signer is not None
            _worker_signer.sign_bytes(b"log in")
        except Exception as exc:
            _worker_error = f"{type(exc).__name__}: {exc}"


def _open_spawned(where: TokenKey, pin: str, conf: str, lock) -> None:
    import os

    global _worker_signer, _worker_error
    os.environ["SOFTHSM2_CONF"] = conf
    with lock:
        try:
            _worker_signer = Pkcs11Signer.open(where, pin)
        except Exception as exc:
            _worker_error = f"{type(exc).__name__}: {exc}"


def _sign_in_worker(message: bytes) -> bytes | str:
    try:
        assert _worker_signer is not None and not _worker_error, _worker_error
        return _worker_signer.sign_bytes(message)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def test_worker_processes_sign_at_once(softhsm: SoftHsm, signer: Pkcs11Signer):
    """Forked from a process that already signed (each child initialises the module and logs in afresh),
    and spawned (each opens the key itself, as each `eportcard serve` process does)."""
    global _worker_signer
    _worker_signer = signer
    signer.sign_bytes(b"the parent signs first")
    messages = [secrets.token_bytes(32) for _ in range(48)]
    signed = []
    for method, initializer, initargs in (
            ("fork", _log_in_forked, ()),
            ("spawn", _open_spawned, (signer.where, softhsm.pin, str(softhsm.conf)))):
        context = multiprocessing.get_context(method)
        lock = context.Lock()
        with context.Pool(3, initializer=initializer, initargs=(*initargs, lock)) as pool:
            signed.append(pool.map(_sign_in_worker, messages, chunksize=4))
    for signatures in signed:
        for message, signature in zip(messages, signatures, strict=True):
            assert isinstance(signature, bytes), signature
            _verify(signer.public_key(), signature, message)
    data = b"and the parent still signs"
    _verify(signer.public_key(), signer.sign_bytes(data), data)


def test_token_info_reads_label_and_serial_without_the_pin(softhsm: SoftHsm):
    info = token_info(TokenKey(softhsm.module, TOKEN, "unused"))
    assert info.label == TOKEN and len(info.serial) == 16 and info.manufacturer == "SoftHSM project"
    listed = [t for t in pkcs11.lib(softhsm.module).get_tokens() if t.label == TOKEN]
    assert listed[0].serial.decode() == info.serial


def test_x509_names_stay_as_built(tmp_path: Path, signer: Pkcs11Signer, algorithm: str):
    """The splice keeps the TBS byte for byte: the certificate parses to what the builder was given."""
    ca = CertificateAuthority.init(tmp_path / "ca", "电子口岸HSM测试CA", "", algorithm, signer=signer)
    assert ca.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "电子口岸HSM测试CA"
    ca.certificate.verify_directly_issued_by(ca.certificate)
