"""``eportcard serve`` (a branch centre's server) and ``eportcard demo`` (the README's first command)."""

from __future__ import annotations

from pathlib import Path

import click

from core.config import load_settings
from core.errors import EportError


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: [web] host).")
@click.option("--port", type=int, default=None, help="Port (default: [web] port).")
@click.pass_obj
def serve(ctx, host: str | None, port: int | None) -> None:
    """Run the web front (public guide, enterprise portal, staff console, API)."""
    import uvicorn

    from core.web.app import create_app_from_settings

    try:
        settings = load_settings(ctx.config)
        app = create_app_from_settings(settings)
    except EportError as exc:
        raise click.ClickException(str(exc)) from None
    host, port = host or settings.web.host, port or settings.web.port
    click.echo(f"eportcard: serving on http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)


@click.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"),
              show_default=True, help="Folder for the demo config, database, blobs and CA (reused if present).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--no-serve", is_flag=True, help="Prepare everything and print the logins, but do not start.")
def demo(folder: Path, host: str, port: int, no_serve: bool) -> None:
    """Make a demo deployment (config, database, CA, staff, enterprises, applications in every state) and serve it."""
    from core.web.demo import build_demo, describe

    try:
        services, logins, ca_line = build_demo(folder)
    except EportError as exc:
        raise click.ClickException(str(exc)) from None
    url = f"http://{host}:{port}"
    click.echo(describe(logins, url, ca_line))
    if no_serve:
        return
    import uvicorn

    from core.web.app import create_app

    uvicorn.run(create_app(services), host=host, port=port, log_level="info")


__all__ = ["demo", "serve"]
