"""``eportcard agent``: run the local card agent on 127.0.0.1 (default port 61232)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from core.cli_context import optional_settings
from core.config import AgentSettings
from core.errors import EportError

from .methods import CardSlot
from .server import Agent, ReaderSlot, VirtualSlot


async def _run(agent: Agent) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await agent.start()
    click.echo(f"eportcard agent on {agent.url} (reader: {agent.slot.reader or 'first with a card'}); "
               f"allowed origins: {', '.join(sorted(agent.allowed_origins)) or '(none)'}", err=True)
    try:
        await stop.wait()
    finally:
        await agent.stop()


@click.command("agent")
@click.option("--reader", default=None, help="PC/SC reader name (default: [card] reader, else the first "
                                              "reader holding a card).")
@click.option("--virtual", "virtual_state", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Serve this virtual card's state file in-process instead of a reader (development).")
@click.option("--port", type=int, default=None, help="TCP port on 127.0.0.1 (default: [agent] port, 61232).")
@click.pass_context
def agent(ctx: click.Context, reader: str | None, virtual_state: Path | None, port: int | None) -> None:
    """Run the local card agent ("client control") the browser pages talk to."""
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
        built = Agent.from_settings(settings, slot, port=port, watch=virtual_state is None)
        asyncio.run(_run(built))
    except EportError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"无法启动读卡控件 / cannot start the card agent: {exc}") from None


if __name__ == "__main__":
    agent()
