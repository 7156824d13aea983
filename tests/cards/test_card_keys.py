"""One construction of card work, at the edge: ``Services.from_settings`` reads the card master secret and
unlocks the CA (the web front and the card commands both get ``services.cards`` from it)."""

from __future__ import annotations

import pytest
from cardkit import PASSPHRASE

from core.config import Settings
from core.errors import Forbidden, InvalidInput
from core.pki.ca import CertificateAuthority
from core.services import Services
from core.services.cards import create_master_secret


def opened(settings: Settings, **kwargs) -> Services:
    services = Services.from_settings(settings, upgrade=True, **kwargs)
    services.store.dispose()  # only the card keys are looked at
    return services


def test_card_work_is_on_only_with_the_ca_its_passphrase_and_the_master_secret(tmp_path, monkeypatch):
    settings = Settings(root=str(tmp_path))
    monkeypatch.delenv(settings.pki.passphrase_env, raising=False)
    off = opened(settings)
    assert not off.cards.enabled
    with pytest.raises(Forbidden) as refused:
        off.cards.counter  # noqa: B018 - reaching a part is what is refused
    assert refused.value.field == "card" and refused.value.zh and refused.value.en

    CertificateAuthority.init(settings.path(settings.pki.ca_dir), "电子口岸测试发卡CA", PASSPHRASE, "ec-p256")
    assert not opened(settings).cards.enabled  # no passphrase in the environment yet
    monkeypatch.setenv(settings.pki.passphrase_env, PASSPHRASE)
    assert not opened(settings).cards.enabled  # no master secret yet
    master = settings.path(settings.card.master_key_file)
    create_master_secret(master)
    on = opened(settings)
    assert on.cards.enabled and on.cards.counter.ca.certificate.subject == on.card_keys.ca.certificate.subject
    secret = master.read_text().strip()
    assert secret not in repr(on) + repr(on.card_keys) + repr(on.cards) + repr(on.cards.grants)


def test_a_passphrase_given_means_the_card_keys_are_required(tmp_path, monkeypatch):
    settings = Settings(root=str(tmp_path))
    monkeypatch.delenv(settings.pki.passphrase_env, raising=False)
    CertificateAuthority.init(settings.path(settings.pki.ca_dir), "电子口岸测试发卡CA", PASSPHRASE, "ec-p256")
    with pytest.raises(InvalidInput) as missing:  # what the card commands say instead of "card work is off"
        Services.from_settings(settings, ca_passphrase=PASSPHRASE)
    assert missing.value.field == "master_key_file" and "init-master" in missing.value.en
    create_master_secret(settings.path(settings.card.master_key_file))
    assert opened(settings, ca_passphrase=PASSPHRASE).cards.enabled
