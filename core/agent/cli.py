"""``eportcard agent``: run the local card agent (ws on 127.0.0.1:61232, wss on 61231), and
``eportcard agent trust``: make this PC's browsers trust the agent's local CA (and ``--remove`` it)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from core.cli_context import optional_settings
from core.config import AgentSettings
from core.errors import EportError

from . import trust as trusting
from .methods import CardSlot
from .server import Agent, ReaderSlot, VirtualSlot
from .tls import WSS_PORT, LocalTls, default_dir

TLS_DIR_HELP = ("Folder of the agent's local CA and TLS certificate (default: $EPORTCARD_AGENT_TLS_DIR, else "
                "~/.local/share/eportcard/agent-tls); made on first use.")


async def _run(agent: Agent) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await agent.start()
    listening = agent.url + (f" and {agent.tls_url} (port {agent.tls_port} on 127.0.0.1)" if agent.tls else "")
    click.echo(f"eportcard agent on {listening} (reader: {agent.slot.reader or 'first with a card'}); "
               f"allowed origins: {', '.join(sorted(agent.allowed_origins))}", err=True)
    try:
        await stop.wait()
    finally:
        await agent.stop()


def _friendly(error: Exception) -> click.ClickException:
    if isinstance(error, EportError):
        return click.ClickException(str(error))
    return click.ClickException(f"无法启动读卡控件 / cannot start the card agent: {error}")


@click.group("agent", invoke_without_command=True)
@click.option("--reader", default=None, help="PC/SC reader name (default: [card] reader, else the first "
                                              "reader holding a card).")
@click.option("--virtual", "virtual_state", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Serve this virtual card's state file in-process instead of a reader (development).")
@click.option("--port", type=int, default=None, help="ws port on 127.0.0.1 (default: [agent] port, 61232).")
@click.option("--wss-port", type=int, default=WSS_PORT, show_default=True,
              help="wss port on 127.0.0.1, for https pages (wss://wss.singlewindow.cn:61231).")
@click.option("--no-wss", is_flag=True, help="Serve ws only (no TLS listener).")
@click.option("--tls-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=TLS_DIR_HELP)
@click.pass_context
def agent(ctx: click.Context, reader: str | None, virtual_state: Path | None, port: int | None, wss_port: int,
          no_wss: bool, tls_dir: Path | None) -> None:
    """Run the local card agent ("client control") the browser pages talk to."""
    if ctx.invoked_subcommand is not None:
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if reader and virtual_state:
        raise click.UsageError("--reader 与 --virtual 只能选一个 / use either --reader or --virtual")
    try:
        # An enterprise's PC has no deployment config: then the defaults apply.
        deployment = optional_settings(ctx)
        settings = deployment.agent if deployment else AgentSettings()
        slot: CardSlot
        if virtual_state is not None:
            if not virtual_state.exists():
                raise click.UsageError(f"{virtual_state} 不存在 / does not exist "
                                       "(make one with `eportcard virtual-card --init`)")
            slot = VirtualSlot.from_file(virtual_state)
        else:
            configured = reader
            if configured is None and deployment is not None:
                configured = deployment.card.reader or None
            slot = ReaderSlot(configured)
        built = Agent.from_settings(settings, slot, port=port, watch=virtual_state is None, tls_port=wss_port)
        if not no_wss:  # the settings are sound: now the local CA may be made (first run)
            built.tls = LocalTls(tls_dir or default_dir()).ensure()
        asyncio.run(_run(built))
    except (EportError, OSError) as exc:
        raise _friendly(exc) from None


@agent.command("trust")
@click.option("--remove", is_flag=True, help="Undo: take the local CA out of the system store and the NSS databases "
                                                "(with --hosts, our hosts line too).")
@click.option("--tls-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=TLS_DIR_HELP)
@click.option("--no-system", is_flag=True, help="Leave the system store alone (it needs root).")
@click.option("--no-nss", is_flag=True, help="Leave the browsers' NSS databases alone.")
@click.option("--hosts", "write_hosts", is_flag=True,
              help="Write (or with --remove, take out) '127.0.0.1 wss.singlewindow.cn' in the hosts file.")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Whose browsers (default: $HOME); for sudo, pass the user's home.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("/"), hidden=True,
              help="File system root for the system store and hosts file (tests).")
def trust(remove: bool, tls_dir: Path | None, no_system: bool, no_nss: bool, write_hosts: bool,
          home: Path | None, root: Path) -> None:
    """Trust the agent's local CA in the system store and the browsers (Chromium, Firefox), so https
    pages reach wss://wss.singlewindow.cn:61231; offers the hosts entry. Explicit and reversible."""
    places = trusting.TrustPlaces(root=root, home=home or Path.home())
    try:
        if remove:
            _remove(places, no_system, no_nss, write_hosts)
        else:
            _trust(LocalTls(tls_dir or default_dir()).ensure(), places, no_system, no_nss, write_hosts)
    except EportError as exc:
        raise click.ClickException(str(exc)) from None


def _trust(tls: LocalTls, places: trusting.TrustPlaces, no_system: bool, no_nss: bool, write_hosts: bool) -> None:
    click.echo(f"本地CA / local CA: {tls.ca_path}")
    if not no_system:
        click.echo(f"系统证书库 / system store: {trusting.trust_system(tls, places)}")
    if not no_nss:
        for database in trusting.trust_nss(tls, places):
            click.echo(f"浏览器证书库 / browser NSS database: {database}")
    if trusting.hosts_has_entry(places):
        click.echo(f"hosts: {places.hosts_file} 已将 wss.singlewindow.cn 指向本机 / already maps "
                   "wss.singlewindow.cn to this PC")
    elif write_hosts:
        trusting.add_hosts_entry(places)
        click.echo(f"hosts: 已写入 / written to {places.hosts_file}: {trusting.HOSTS_LINE}")
    else:
        click.echo(f"hosts: 请在 {places.hosts_file} 加入下面一行（或加 --hosts 由本命令写入） / add this line "
                   f"to {places.hosts_file} (or pass --hosts):\n{trusting.HOSTS_LINE}")


def _remove(places: trusting.TrustPlaces, no_system: bool, no_nss: bool, write_hosts: bool) -> None:
    if not no_system:
        removed = trusting.untrust_system(places)
        click.echo(f"系统证书库 / system store: {'已移除 / removed ' + str(removed) if removed else '无 / nothing to remove'}")
    if not no_nss:
        for database in trusting.untrust_nss(places):
            click.echo(f"浏览器证书库 / browser NSS database: 已移除 / removed from {database}")
    if write_hosts:
        done = trusting.remove_hosts_entry(places)
        click.echo(f"hosts: {'已移除本命令写入的一行 / removed our line' if done else '无 / nothing to remove'}")
    elif trusting.hosts_has_entry(places):
        click.echo(f"hosts: {places.hosts_file} 仍将 wss.singlewindow.cn 指向本机；加 --hosts 可移除本命令写入的一行 / "
                   "still maps wss.singlewindow.cn to this PC; pass --hosts to take out our line")


if __name__ == "__main__":
    agent()
