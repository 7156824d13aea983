"""`eportcard counter ...` (staff workstation) and `eportcard card ...` (enterprise self-service).

The card is reached through pcscd (``--reader NAME``; default: the first reader with a card) or
in-process from a virtual card's state file (``--virtual STATE``). PINs come from a hidden prompt
or from an environment variable (``--pin-env NAME``), never from an option that lands in shell
history, and are never printed. Same machine as the server: the commands call the services directly.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from core.cli_context import deployment_settings
from core.config import Settings, ca_key_secret
from core.errors import EportError, InvalidInput
from core.services import Actor, Services
from core.services.cards import CardReading, Cards, create_master_secret, sign_operator_action
from core.services.cards.readers import first_reader_with_card, open_reader, open_virtual
from core.services.certificates import ALGORITHMS

if TYPE_CHECKING:
    from core.hardware.driver import CardDriver

OPERATOR_ACTIONS = ("unlock", "renew", "freeze", "unfreeze", "report_lost", "void")


# ---- plumbing ----------------------------------------------------------------------------------------------


def _settings(ctx: click.Context) -> Settings:
    # The deployment's config is required: without it these commands would make a database, or look
    # for the CA and the master secret, in whatever folder they run from.
    return deployment_settings(ctx)


def _cards(settings: Settings) -> Cards:
    """The card services. The card keys are required here, so the CA passphrase is asked for when the
    deployment keeps none (``[pki] passphrase_env``, the credential ``ca_passphrase``, ``passphrase_file``;
    for a CA key on a PKCS#11 token its PIN: ``[pki] pkcs11_pin_env``, ``pkcs11_pin``, ``pkcs11_pin_file``)."""
    prompt = "CA 密钥令牌的 PIN / PIN of the CA key's token" if settings.pki.on_token else \
        "CA 私钥口令 / CA key passphrase"
    passphrase = ca_key_secret(settings) or click.prompt(prompt, hide_input=True, err=True)
    return Services.from_settings(settings, upgrade=True, ca_passphrase=passphrase).cards


def _open_card(reader: str | None, virtual: Path | None, settings: Settings) -> AbstractContextManager[CardDriver]:
    if virtual is not None:
        return open_virtual(virtual)
    return open_reader(reader or settings.card.reader)


def _pin(env_name: str | None, prompt: str, confirm: bool = False) -> str:
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            raise InvalidInput(f"环境变量 {env_name} 未设置", f"the environment variable {env_name} is not set",
                               field="pin_env")
        return value
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True))


def _card_command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Reader options, settings, and one-line bilingual errors for every card command."""

    @click.option("--reader", default=None, help="PC/SC reader name (default: the first with a card)")
    @click.option("--virtual", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="use a virtual card's state file in-process instead of a reader")
    @click.option("--json", "as_json", is_flag=True, help="print JSON")
    @click.pass_context
    @functools.wraps(fn)
    def run(ctx: click.Context, reader: str | None, virtual: Path | None, as_json: bool, **kwargs: Any) -> Any:
        try:
            settings = _settings(ctx)
            with _open_card(reader, virtual, settings) as driver:
                return fn(settings=settings, driver=driver, as_json=as_json, **kwargs)
        except EportError as exc:
            raise click.ClickException(str(exc)) from None

    return run


def _staff() -> Actor:
    # The counter workstation holds the CA key and the master secret: it acts as the branch itself.
    return Actor.system(f"counter:{getpass.getuser()}")


def _holder(reading: CardReading) -> Actor:
    uscc = reading.record.enterprise_uscc if reading.record else ""
    return Actor(id=f"card:{reading.info.serial}", kind="enterprise", uscc=uscc)


def _show(data: dict[str, object], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    for key, value in data.items():
        click.echo(f"{key}: {value}")


def _card_line(card: Any) -> dict[str, object]:
    cert = card.certificate
    return {"card_id": card.id, "state": card.state.value, "kind": card.kind.value,
            "card_no": card.card_no, "device_no": card.device_no, "pin_is_initial": card.pin_is_initial,
            "certificate_serial": cert.serial if cert else "",
            "not_after": cert.not_after.isoformat() if cert else ""}


# ---- counter -----------------------------------------------------------------------------------------------


@click.group("counter")
def counter() -> None:
    """窗口制卡：制卡、读卡、解锁、证书更新 / Counter: personalise, read, unlock, renew."""


@counter.command("init-master")
@click.pass_context
def init_master(ctx: click.Context) -> None:
    """Create the card master secret ([card] master_key_file), owner-only; never overwrites."""
    try:
        settings = _settings(ctx)
        path = settings.path(settings.card.master_key_file)
        create_master_secret(path)
    except EportError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"制卡主密钥已生成 / card master secret created: {path} (0600)")


@counter.command("personalize")
@click.argument("app_id")
@click.argument("item", type=int)
@click.option("--device-no", default="", help="13-digit device number (设备编号) to write on the card")
@_card_command
def personalize(settings: Settings, driver: CardDriver, as_json: bool, app_id: str, item: int,
                device_no: str) -> None:
    """Make the card for ITEM (1-based) of application APP_ID: key on the card, certificate, record."""
    card = _cards(settings).counter.personalize(app_id, item - 1, driver, _staff(), device_no=device_no)
    _show(_card_line(card), as_json)


@counter.command("read")
@click.option("--cert-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the card's certificate (PEM) here, e.g. for openssl")
@_card_command
def read(settings: Settings, driver: CardDriver, as_json: bool, cert_out: Path | None) -> None:
    """What is on the card, with the branch's record of it."""
    reading = _cards(settings).counter.read(driver)
    if cert_out is not None and reading.certificate is not None:
        from cryptography.hazmat.primitives.serialization import Encoding

        cert_out.write_bytes(reading.certificate.public_bytes(Encoding.PEM))
    _show(reading.summary(), as_json)


@counter.command("unlock")
@_card_command
def unlock(settings: Settings, driver: CardDriver, as_json: bool) -> None:
    """Unlock the card brought to the window: the PIN returns to 88888888."""
    _show(_card_line(_cards(settings).counter.unlock(driver, _staff())), as_json)


@counter.command("renew")
@click.option("--algorithm", type=click.Choice(ALGORITHMS), default=None,
              help="move the card onto this profile: a new key on the card, audited (default: keep its key)")
@_card_command
def renew(settings: Settings, driver: CardDriver, as_json: bool, algorithm: str | None) -> None:
    """New certificate for the card's key (expired ones too); the PIN returns to 88888888."""
    _show(_card_line(_cards(settings).counter.renew(driver, _staff(), algorithm)), as_json)


# ---- enterprise self-service -------------------------------------------------------------------------------


@click.group("card")
def card() -> None:
    """企业自助：查看、修改密码、证书延期、操作员卡管理 / Self-service: info, PIN, renewal, operator cards."""


@card.command("info")
@_card_command
def info(settings: Settings, driver: CardDriver, as_json: bool) -> None:
    """What is on your card: certificate, validity, PIN tries left, state."""
    service = _cards(settings).self_service
    _show(service.info(driver, _holder(service.read(driver))).summary(), as_json)


@card.command("change-pin")
@click.option("--pin-env", default=None, metavar="NAME", help="environment variable with the current PIN")
@click.option("--new-pin-env", default=None, metavar="NAME", help="environment variable with the new PIN")
@_card_command
def change_pin(settings: Settings, driver: CardDriver, as_json: bool, pin_env: str | None,
               new_pin_env: str | None) -> None:
    """Change the PIN (the initial 88888888 must be changed and may never be set again)."""
    old = _pin(pin_env, "当前密码 / current PIN")
    new = _pin(new_pin_env, "新密码 / new PIN", confirm=True)
    service = _cards(settings).self_service
    changed = service.change_pin(driver, old, new, _holder(service.read(driver)))
    _show(_card_line(changed), as_json)


@card.command("renew")
@click.option("--pin-env", default=None, metavar="NAME", help="environment variable with the PIN")
@_card_command
def self_renew(settings: Settings, driver: CardDriver, as_json: bool, pin_env: str | None) -> None:
    """Renew the legal card's certificate (0-180 days before expiry); the PIN returns to 88888888."""
    pin = _pin(pin_env, "密码 / PIN")
    service = _cards(settings).self_service
    _show(_card_line(service.renew(driver, pin, _holder(service.read(driver)))), as_json)


@card.command("operator")
@click.argument("action", type=click.Choice(OPERATOR_ACTIONS))
@click.argument("card_id")
@click.option("--pin-env", default=None, metavar="NAME", help="environment variable with the legal card's PIN")
@click.option("--target-virtual", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="unlock / renew: the operator card's virtual state file (default: swap cards in the reader)")
@_card_command
def operator(settings: Settings, driver: CardDriver, as_json: bool, action: str, card_id: str,
             pin_env: str | None, target_virtual: Path | None) -> None:
    """With the legal card in the reader: ACTION one of the enterprise's operator cards (CARD_ID)."""
    service = _cards(settings).grants
    reading = service.read(driver)
    if reading.record is None:
        raise InvalidInput("读卡器中的卡不是本系统的法人卡", "the card in the reader is not a legal card known here",
                           field="card")
    actor = _holder(reading)
    challenge = service.challenge(reading.record.enterprise_uscc, actor)
    pin = _pin(pin_env, "法人卡密码 / legal card PIN")
    cert_der, signature = sign_operator_action(driver, pin, challenge.nonce, action, card_id)
    result = service.operator_action(card_id, action, cert_der, signature, challenge.nonce, actor)
    if result.grant is None:
        _show(_card_line(result.card), as_json)
        return
    reader = None
    if target_virtual is None:
        driver.disconnect()
        click.prompt("请取出法人卡，插入操作员卡后按回车 / take out the legal card, insert the operator card, "
                     "press Enter", default="", show_default=False, err=True)
        reader = settings.card.reader or first_reader_with_card()
    with _open_card(reader, target_virtual, settings) as target:
        if action == "unlock":
            done = service.operator_unlock(target, result.grant, actor)
        else:
            done = service.operator_renew(target, result.grant, actor)
    _show(_card_line(done), as_json)
