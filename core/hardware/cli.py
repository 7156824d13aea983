"""``eportcard virtual-card``: present a virtual card to pcscd through the vpcd driver."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
import threading
from pathlib import Path

import click

from core.errors import EportError
from core.hardware import vpcd
from core.hardware.keys import derive_admin_key
from core.hardware.profile import DEFAULT_RETRY_LIMIT, SERIAL_LENGTH
from core.hardware.virtual_card import VirtualCard

MASTER_SECRET_ENV = "EPORTCARD_MASTER_SECRET"  # hex


def _parse_endpoint(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter("地址格式应为 主机:端口 / expected HOST:PORT, e.g. 127.0.0.1:35963")
    return host, int(port)


def _master_secret(path: Path | None) -> bytes:
    text = path.read_text(encoding="ascii").strip() if path else os.environ.get(MASTER_SECRET_ENV, "")
    if not text:
        raise click.UsageError(f"--init 需要主密钥 / --init needs the master secret: --master-secret-file "
                               f"or ${MASTER_SECRET_ENV} (hex)")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise click.UsageError("主密钥须为十六进制 / the master secret must be hex") from exc


@click.command("virtual-card")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The card's memory (JSON); created with --init.")
@click.option("--vpcd", "endpoint", default=f"{vpcd.DEFAULT_HOST}:{vpcd.DEFAULT_PORT}", show_default=True,
              help="Where vsmartcard-vpcd listens (pcscd reader 'Virtual PCD 00 00' is port 35963).")
@click.option("--init", is_flag=True, help="Make a new blank card in --state (refuses to overwrite).")
@click.option("--serial", default=None, help="16 lowercase hex digits; random when omitted.")
@click.option("--device-no", default="", help="13-digit device number (设备编号).")
@click.option("--retry-limit", type=int, default=DEFAULT_RETRY_LIMIT, show_default=True)
@click.option("--master-secret-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help=f"Branch master secret (hex) to derive the card's admin key; "
                                 f"or ${MASTER_SECRET_ENV}.")
@click.option("--pull-out-on", default=None, hidden=True,
              help="Test hook INS:N (hex INS): pull the card out when the Nth such command arrives.")
@click.option("--fail-first", type=int, default=0, hidden=True,
              help="Test hook N: answer the first N commands with 6F00, as a card not ready yet.")
def virtual_card(state_path: Path, endpoint: str, init: bool, serial: str | None, device_no: str,
                 retry_limit: int, master_secret_file: Path | None, pull_out_on: str | None,
                 fail_first: int) -> None:
    """Run a virtual E-Port card in the vpcd reader until interrupted or pulled out."""
    host, port = _parse_endpoint(endpoint)
    try:
        if init:
            if state_path.exists():
                raise click.UsageError(f"{state_path} 已存在 / already exists; drop --init to reuse it")
            secret = _master_secret(master_secret_file)
            serial = serial or secrets.token_hex(SERIAL_LENGTH // 2)
            card = VirtualCard.create(state_path, admin_key=derive_admin_key(secret, serial), serial=serial,
                                      device_no=device_no, retry_limit=retry_limit)
        else:
            if not state_path.exists():
                raise click.UsageError(f"{state_path} 不存在 / does not exist; use --init to make a card")
            card = VirtualCard.load(state_path)
    except EportError as exc:
        raise click.UsageError(str(exc)) from exc
    if pull_out_on:
        ins, _, nth = pull_out_on.partition(":")
        card.pull_out_on(int(ins, 16), int(nth or "1"))
    card.fail_next(fail_first)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"virtual card {card.serial} -> vpcd {host}:{port}", err=True)
    try:
        vpcd.serve(card, host, port, stop)
    except OSError as exc:
        click.echo(f"无法连接 vpcd / cannot reach vpcd at {host}:{port}: {exc} "
                   "(is pcscd running with vsmartcard-vpcd?)", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    virtual_card()
