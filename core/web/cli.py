"""``eportcard serve`` (a branch centre's server) and ``eportcard demo`` (the README's first command)."""

from __future__ import annotations

import errno
import importlib.util
import inspect
import logging
import os
import socket
from pathlib import Path
from typing import Any

import click

from core.cli_plugins import plugins_dir_option, with_plugins_dir
from core.config import LOG_FORMATS, MAX_WORKERS, Settings, load_settings, secret_values
from core.errors import ConfigError, EportError
from core.services.deployment import exposed_secret_files

log = logging.getLogger(__name__)


def check_development(settings: Settings, host: str) -> None:
    """Refuse to publish SMS codes: the outbox gateway without development mode (``gateway_for``
    says how to configure one), development mode on an address other machines reach."""
    from core.services.sms import gateway_for
    from core.web.render import is_loopback

    gateway_for(settings)
    if settings.web.development and not is_loopback(host):
        raise ConfigError(
            f"开发模式（[web] development = true）会让本机读到所有短信验证码，只能监听 127.0.0.1 或 ::1，不能监听 {host}",
            f"development mode ([web] development = true) shows every SMS code to this machine: listen on "
            f"127.0.0.1 or ::1, not {host}", field="web.development")


def warn_exposed(settings: Settings, config: Path) -> None:
    """Say loudly which secret files (config, database, keys) other users of the machine may read."""
    files = " ".join(str(path) for path in exposed_secret_files(settings, config))
    if files:
        log.warning("secret files readable by other users: %s", files)
        click.secho(f"警告：以下文件含密钥或全部数据，本机其他用户可以读取 / WARNING: these files hold secrets or "
                    f"every record and other users of this machine can read them: {files}\n"
                    f"  修复 / fix: chmod 600 {files}", fg="red", bold=True, err=True)


def check_port(host: str, port: int) -> None:
    """Refuse, before anything says "serving on", an address this process cannot listen on: the port
    taken by another process, an address this machine does not have, a port it may not open. Bound
    the way the server binds (SO_REUSEADDR), then released for it."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        raise ConfigError(f"无法解析监听地址 {host}", f"cannot resolve the address to listen on: {host}",
                          field="web.host") from None
    for family, kind, proto, _name, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise ConfigError(f"端口 {port} 已被占用（{host}:{port}）：请先停止占用它的进程，或用 --port 另选端口",
                                      f"port {port} on {host} is already in use: stop the process listening there, "
                                      "or choose another port with --port", field="web.port") from None
                raise ConfigError(f"无法监听 {host}:{port}：{exc.strerror}",
                                  f"cannot listen on {host}:{port}: {exc.strerror}", field="web.port") from None


def server_options() -> dict[str, str]:
    """The fastest event loop and HTTP parser installed: uvloop and httptools (the ``uvicorn[standard]``
    pair, uvicorn docs "Settings": --loop, --http), else asyncio and h11."""
    return {"loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            "http": "httptools" if importlib.util.find_spec("httptools") else "h11"}


def quiet_access(on: bool) -> None:
    """The access lines of core.web.access on or off (the request metrics count either way)."""
    logging.getLogger("core.web.access").setLevel(logging.INFO if on else logging.WARNING)


WORKER_START_SECONDS = 120  # how long a worker may take to start before its supervisor gives up on it
# What `serve --workers N` hands each worker process (spawned: it starts from nothing but the environment).
WORKER_ENV = {"config": "EPORTCARD_SERVE_CONFIG", "plugins_dir": "EPORTCARD_SERVE_PLUGINS_DIR",
              "log_format": "EPORTCARD_SERVE_LOG_FORMAT", "access_log": "EPORTCARD_SERVE_ACCESS_LOG"}


def worker_app() -> Any:
    """The app of one worker of `serve --workers N` (uvicorn's factory): the same settings, checks and
    logging as the process that started it, which checked everything once before it listened."""
    from core.web.app import create_app_from_settings, settle
    from core.web.logs import configure_logging

    plugins = os.environ.get(WORKER_ENV["plugins_dir"])
    settings = with_plugins_dir(load_settings(Path(os.environ[WORKER_ENV["config"]])),
                                Path(plugins) if plugins else None)
    configure_logging(os.environ.get(WORKER_ENV["log_format"], "text"), secrets=secret_values(settings))
    quiet_access(os.environ.get(WORKER_ENV["access_log"]) == "1")
    app = create_app_from_settings(settings)
    settle()
    return app


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: [web] host).")
@click.option("--port", type=int, default=None, help="Port (default: [web] port).")
@click.option("--workers", type=click.IntRange(1, MAX_WORKERS), default=None,
              help="Web processes sharing the port, one per CPU core (default: [web] workers).")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default=None,
              help="Log lines as text or one JSON object each (default: [web] log_format).")
@click.option("--access-log/--no-access-log", default=None,
              help="One log line per request (default: [web] access_log).")
@plugins_dir_option
@click.pass_obj
def serve(ctx, host: str | None, port: int | None, workers: int | None, log_format: str | None,
          access_log: bool | None, plugins_dir: Path | None) -> None:
    """Run the web front (public guide, enterprise portal, staff console, API).

    Before it listens, every region plugin passes the start-up checks (core.testing.startup_check):
    one that fails is disabled with a warning, or stops the start when [regions] enabled names it.
    With several workers each is a process of its own on the same port (uvicorn's supervisor restarts
    none: run it under systemd); sessions, kept replies, login limits and jobs are shared through the
    database (docs/deployment.md, Sizing)."""
    import uvicorn

    from core import __version__
    from core.web.app import create_app_from_settings, settle
    from core.web.logs import configured_logging

    try:
        settings = with_plugins_dir(load_settings(ctx.config), plugins_dir)
        host, port = host or settings.web.host, port or settings.web.port
        workers = workers or settings.web.workers
        access = settings.web.access_log if access_log is None else access_log
        check_development(settings, host)
        check_port(host, port)
        warn_exposed(settings, Path(ctx.config))
        app = create_app_from_settings(settings)
    except EportError as exc:
        raise click.ClickException(str(exc)) from None
    if settings.sms.gateway == "none":
        click.echo("eportcard: 未配置短信网关，提交申请和找回密码所需的验证码无法发送 / no SMS gateway is configured: "
                   "the codes submissions and password resets need cannot be sent (see docs/deployment.md)", err=True)
    click.echo(f"eportcard: serving on http://{host}:{port}" + (f" ({workers} workers)" if workers > 1 else ""))
    options = server_options()
    chosen_format = log_format or settings.web.log_format
    # Configured once the start succeeded (a refusal stays one line): our format (log_config=None keeps
    # uvicorn's hands off it), and our access lines instead of uvicorn's.
    with configured_logging(chosen_format, secrets=secret_values(settings)):
        quiet_access(access)
        log.info("eportcard %s serving on http://%s:%s (%d worker(s), loop %s, http %s, access log %s)",
                 __version__, host, port, workers, options["loop"], options["http"], "on" if access else "off")
        # proxy_headers=False: the app believes X-Forwarded-* from [web] trusted_proxies only (app.py).
        common: dict[str, Any] = {"host": host, "port": port, "log_level": "info", "proxy_headers": False,
                                  "log_config": None, "access_log": False, **options}
        if workers == 1:
            settle()
            uvicorn.run(app, **common)
            return
        del app  # checked; each worker makes its own from the same settings
        os.environ.update({WORKER_ENV["config"]: str(Path(ctx.config).resolve()),
                           WORKER_ENV["log_format"]: chosen_format, WORKER_ENV["access_log"]: "1" if access else "0"})
        if plugins_dir is not None:
            os.environ[WORKER_ENV["plugins_dir"]] = str(plugins_dir.resolve())
        # A worker builds its app (settings, plugin checks, the CA unlocked) before it answers the supervisor's
        # pings; on a busy machine that takes longer than uvicorn's 5 s, and it would be killed and restarted.
        if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
            common["timeout_worker_healthcheck"] = WORKER_START_SECONDS
        uvicorn.run("core.web.cli:worker_app", factory=True, workers=workers, **common)


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
        services, logins, ca_line = build_demo(folder, host, port)
        check_development(services.settings, host)
    except EportError as exc:
        raise click.ClickException(str(exc)) from None
    url = f"http://{host}:{port}"
    click.echo(describe(logins, url, ca_line))
    if no_serve:
        return
    import uvicorn

    from core.web.app import create_app
    from core.web.logs import configured_logging

    with configured_logging(secrets=secret_values(services.settings)):
        uvicorn.run(create_app(services), host=host, port=port, log_level="info", log_config=None,
                    access_log=False)


__all__ = ["check_development", "check_port", "demo", "quiet_access", "serve", "server_options", "warn_exposed",
           "worker_app"]
