"""SM2 cards at the counter, in-process and through pcscd + vpcd, on SQLite and PostgreSQL: a deployment with
an SM2 CA and ``[pki] algorithm = "sm2"`` makes SM2 cards (SM2-with-SM3 certificates OpenSSL accepts with the
GM/T 0009 ID), unlocks and renews them; a deployment switching its profile to SM2 keeps its RSA and P-256
cards valid, renews them on their own keys, and moves one onto SM2 only when told to, in the audit trail."""

from __future__ import annotations

import attrs
import pytest
from cardkit import NEW_PIN, PASSPHRASE, STAFF, Env, enterprise, openssl, started_now, write_pem
from cryptography import x509

from core.calendar import WorkCalendar
from core.config import Settings
from core.errors import InvalidInput
from core.hardware.errors import CardBlocked, WrongPin
from core.hardware.profile import INITIAL_PIN, KeyAlgorithm
from core.hardware.testing import MASTER_SECRET
from core.model import CardState
from core.pki import gm, sm2
from core.pki.ca import CertificateAuthority, serial_hex
from core.pki.crl import build_crl
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.services import Services
from core.services.cards import CardKeys

DISTID = "distid:1234567812345678"


def _env(store, ca: CertificateAuthority, tmp_path, clock, algorithm: str) -> Env:
    settings = Settings(root=str(tmp_path))
    settings = attrs.evolve(settings, pki=attrs.evolve(settings.pki, algorithm=algorithm))
    services = Services(settings=settings, store=store, rulebook=Rulebook(get_plugin_manager()),
                        calendar=WorkCalendar(), clock=clock, card_keys=CardKeys(ca, MASTER_SECRET))
    return Env(services=services, cards=services.cards, ca=ca, clock=clock, workdir=tmp_path)


@pytest.fixture
def sm2_ca(tmp_path) -> CertificateAuthority:
    return CertificateAuthority.init(tmp_path / "ca", "电子口岸SM2发卡CA", PASSPHRASE, "sm2")


def _accepted(tmp_path, certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    result = openssl("verify", "-vfyopt", DISTID, "-partial_chain",
                     "-CAfile", write_pem(tmp_path / "issuer.pem", issuer),
                     write_pem(tmp_path / "card.pem", certificate), check=False)
    return result.returncode == 0 and b": OK" in result.stdout


def _signature_accepted(tmp_path, certificate: x509.Certificate, signature: bytes, data: bytes) -> bool:
    (tmp_path / "pub.pem").write_bytes(sm2.public_key_pem(gm.certificate_public_key(certificate)))
    (tmp_path / "data").write_bytes(data)
    (tmp_path / "sig").write_bytes(signature)
    result = openssl("pkeyutl", "-verify", "-pubin", "-inkey", tmp_path / "pub.pem", "-rawin", "-digest", "sm3",
                     "-pkeyopt", DISTID, "-in", tmp_path / "data", "-sigfile", tmp_path / "sig", check=False)
    return b"Signature Verified Successfully" in result.stdout


def _audit(env: Env, card_id: str) -> list[tuple[str, dict]]:
    with env.services.store.transaction(readonly=True) as tx:
        return [(e.action, e.payload) for e in tx.audit.all(limit=100000) if e.entity_id == card_id]


def test_an_sm2_card_made_unlocked_and_renewed_at_the_counter(store, sm2_ca, make_rig, tmp_path):
    env = _env(store, sm2_ca, tmp_path, started_now(), "sm2")
    app = env.produced(1, operators=0)
    rig = make_rig(serial="00c0ffee00000a01")
    driver = rig.start()
    card = env.cards.counter.personalize(app.id, 0, driver, STAFF, device_no="4403123456789")
    assert card.state is CardState.ACTIVE and driver.card_info().key_algorithm is KeyAlgorithm.SM2
    reading = env.cards.counter.read(driver)
    certificate = reading.certificate
    assert certificate.signature_algorithm_oid.dotted_string == sm2.SM2_WITH_SM3_OID
    assert gm.is_sm2_certificate(certificate) and reading.certificate_status == "good"
    assert _accepted(tmp_path, certificate, sm2_ca.certificate)

    me = enterprise(app)
    env.cards.self_service.change_pin(driver, INITIAL_PIN, NEW_PIN, me)
    data = "报关单 0001 / declaration 0001".encode()
    assert _signature_accepted(tmp_path, certificate, driver.sign(NEW_PIN, data), data)
    for _ in range(3):
        with pytest.raises((WrongPin, CardBlocked)):
            env.cards.self_service.change_pin(driver, "00000000", "24681357", me)
    with pytest.raises(CardBlocked):
        driver.sign(NEW_PIN, data)
    unlocked = env.cards.counter.unlock(driver, STAFF)
    assert unlocked.state is CardState.ACTIVE and unlocked.pin_is_initial
    assert _signature_accepted(tmp_path, certificate, driver.sign(INITIAL_PIN, data), data)

    renewed = env.cards.counter.renew(driver, STAFF)
    new_certificate = env.cards.counter.read(driver).certificate
    assert renewed.certificate.serial == serial_hex(new_certificate.serial_number) != card.certificate.serial
    assert gm.certificate_spki(new_certificate) == gm.certificate_spki(certificate)  # the same card key
    assert _accepted(tmp_path, new_certificate, sm2_ca.certificate)
    with env.services.store.transaction(readonly=True) as tx:
        assert tx.certificates.get(card.certificate.serial).reason == "superseded"  # type: ignore[union-attr]
        crl = build_crl(sm2_ca, tx.certificates)
    assert [entry.serial_number for entry in crl] == [certificate.serial_number]
    assert crl.signature_algorithm_oid.dotted_string == sm2.SM2_WITH_SM3_OID


def test_a_mixed_deployment_moves_a_card_onto_sm2_only_when_told(store, sm2_ca, make_rig, tmp_path):
    clock = started_now()
    before = _env(store, sm2_ca, tmp_path, clock, "rsa2048")  # the profile the branch used so far
    app = before.produced(1, operators=1)
    rig = make_rig(serial="00c0ffee00000a02")
    driver = rig.start()
    rsa_card = before.cards.counter.personalize(app.id, 0, driver, STAFF)
    assert driver.card_info().key_algorithm is KeyAlgorithm.RSA_2048

    after = _env(store, sm2_ca, tmp_path, clock, "sm2")  # [pki] algorithm switched to sm2
    rsa_certificate = after.cards.counter.read(driver).certificate
    assert after.cards.counter.read(driver).certificate_status == "good"  # still valid after the switch

    kept = after.cards.counter.renew(driver, STAFF)  # an ordinary renewal keeps the card's RSA key
    kept_certificate = after.cards.counter.read(driver).certificate
    assert driver.card_info().key_algorithm is KeyAlgorithm.RSA_2048
    assert gm.certificate_spki(kept_certificate) == gm.certificate_spki(rsa_certificate)
    assert all("algorithm" not in payload for _, payload in _audit(after, rsa_card.id))

    moved = after.cards.counter.renew(driver, STAFF, algorithm="sm2")
    sm2_certificate = after.cards.counter.read(driver).certificate
    assert driver.card_info().key_algorithm is KeyAlgorithm.SM2 and gm.is_sm2_certificate(sm2_certificate)
    assert moved.certificate.serial == serial_hex(sm2_certificate.serial_number)
    usage = sm2_certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_agreement and not usage.key_encipherment  # the SM2 profile's key usage, not RSA's
    assert sm2_certificate.subject == kept_certificate.subject
    assert _accepted(tmp_path, sm2_certificate, sm2_ca.certificate)
    data = b"after the move"
    assert _signature_accepted(tmp_path, sm2_certificate, driver.sign(INITIAL_PIN, data), data)
    trail = _audit(after, rsa_card.id)
    assert [payload["algorithm"] for action, payload in trail if "algorithm" in payload] == \
        ["rsa2048 -> sm2", "rsa2048 -> sm2"]  # renew_started, then renew
    assert [action for action, payload in trail if "algorithm" in payload] == ["renew_started", "renew"]
    with after.services.store.transaction(readonly=True) as tx:
        assert tx.certificates.get(kept.certificate.serial).reason == "superseded"  # type: ignore[union-attr]

    # the item made after the switch is an SM2 card from the start (the reader holds one card at a time)
    rig.stop()
    second = make_rig(serial="00c0ffee00000a03")
    driver = second.start()
    after.cards.counter.personalize(app.id, 1, driver, STAFF)
    assert driver.card_info().key_algorithm is KeyAlgorithm.SM2


def test_renewal_names_only_a_known_profile(store, sm2_ca, make_rig, tmp_path):
    env = _env(store, sm2_ca, tmp_path, started_now(), "sm2")
    app = env.produced(1, operators=0)
    driver = make_rig(serial="00c0ffee00000a04").start()
    card = env.cards.counter.personalize(app.id, 0, driver, STAFF)
    snapshot = env.snapshot(app.enterprise.uscc)
    with pytest.raises(InvalidInput) as refused:
        env.cards.counter.renew(driver, STAFF, algorithm="ed25519")
    assert refused.value.field == "algorithm" and refused.value.zh and refused.value.en
    assert env.snapshot(app.enterprise.uscc) == snapshot
    assert env.cards.counter.read(driver).record == card


def test_the_counter_command_moves_a_card_onto_sm2(tmp_path, make_rig, monkeypatch):
    """`eportcard ca init --algorithm sm2` in an RSA deployment, an RSA card made, then
    `eportcard counter renew --algorithm sm2`: the card holds an SM2 key and the audit trail says so."""
    import json

    from click.testing import CliRunner

    from core.cli import main
    from core.config import load_settings
    from core.samples import make_enrol

    config = tmp_path / "eportcard.toml"
    config.write_text('[pki]\nca_dir = "ca"\nalgorithm = "rsa2048"\n', encoding="utf-8")
    monkeypatch.setenv("EPORTCARD_CONFIG", str(config))
    monkeypatch.setenv("EPORTCARD_CA_PASSPHRASE", PASSPHRASE)
    runner = CliRunner()
    made = runner.invoke(main, ["ca", "init", "--name", "电子口岸SM2测试CA", "--algorithm", "sm2"])
    assert made.exit_code == 0, made.output
    settings = load_settings(config)
    settings.path(settings.card.master_key_file).write_text(MASTER_SECRET.hex())
    services = Services.from_settings(settings, upgrade=True)
    app = make_enrol(51, "shenzhen", operators=0)
    me = enterprise(app)
    app = services.applications.create(attrs.evolve(app, id=""), me)
    number = services.applications.submit(app.id, me).acceptance_no
    services.applications.accept(app.id, STAFF)
    services.applications.start_production(app.id, STAFF)
    services.store.dispose()
    rig = make_rig(serial="00c0ffee00000a05")
    if rig.kind == "pcsc":
        rig.start()
        card_opts = ["--reader", rig.slot.name]
    else:
        card_opts = ["--virtual", str(rig.state_path)]

    def run(*args: str, code: int = 0):
        result = runner.invoke(main, [*args, *card_opts])
        assert result.exit_code == code, result.output
        return result

    card = json.loads(run("counter", "personalize", number, "1", "--json").output)
    refused = run("counter", "renew", "--algorithm", "ed25519", code=2)
    assert "ed25519" in refused.output
    moved = json.loads(run("counter", "renew", "--algorithm", "sm2", "--json").output)
    assert moved["certificate_serial"] != card["certificate_serial"]
    pem = tmp_path / "card.pem"
    run("counter", "read", "--cert-out", str(pem))
    certificate = x509.load_pem_x509_certificate(pem.read_bytes())
    assert gm.is_sm2_certificate(certificate)
    services = Services.from_settings(settings)
    try:
        with services.store.transaction(readonly=True) as tx:
            moves = [e.payload["algorithm"] for e in tx.audit.all(limit=100000)
                     if e.action == "renew" and "algorithm" in e.payload]
    finally:
        services.store.dispose()
    assert moves == ["rsa2048 -> sm2"]
