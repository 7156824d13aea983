"""The agent's WebSocket server: loopback only, Origin allow-list, one request at a time per card.

Two listeners, as the official control has (docs/agent.md): ``ws://127.0.0.1:61232`` for ``http:`` pages
and ``wss://wss.singlewindow.cn:61231`` (TLS with the local CA's certificate, core.agent.tls) for all
others. Security model (docs/agent.md):
- it binds to a loopback address only; any other host in the config is refused at start;
- a browser page may connect only from an official single-window / E-Port origin (OFFICIAL_ORIGINS) or
  one on ``[agent] allowed_origins`` (others, ``null`` included, get HTTP 403 before the upgrade); a
  connection without an Origin header is a local program, not a web page, which could talk to pcscd
  directly anyway, so it is let in (that is how customs tools connect);
- the Host header must name the loopback address (or, on the TLS listener, wss.singlewindow.cn, which
  the hosts file maps to it), so a DNS-rebinding page cannot reach the agent;
- PINs pass from the request to the card and are never stored or logged: the log has method names,
  request ids and results only;
- card calls run in a worker thread under the slot's lock, so one request at a time reaches a card.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response as HttpResponse

from core.config import AgentSettings
from core.errors import ConfigError, EportError
from core.hardware.driver import CardDriver
from core.hardware.errors import CardRemoved, NoReader
from core.hardware.transport import InProcessTransport, PcscTransport
from core.hardware.virtual_card import VirtualCard

from . import blocks, protocol
from .methods import CardSlot, agent_version, card_id, dispatch
from .tls import OFFICIAL_HOST, WSS_PORT, LocalTls

log = logging.getLogger("eportcard.agent")

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
DEFAULT_PORT = 61232  # client.js: ws://127.0.0.1:61232 on http: pages
# The official sites whose pages call the control; docs/agent.md ("Allowed origins") gives the public
# source of each. A deployment adds its own web front in [agent] allowed_origins.
OFFICIAL_ORIGINS = (
    "https://app.singlewindow.cn",  # client.js (swVersionScript); its card-medium login page (README)
    "http://www.singlewindow.cn",  # where that card login returns (README: service=http://www.singlewindow.cn/...)
    "http://www.chinaport.gov.cn",  # client.js header
    "https://www.chinaport.gov.cn",  # the E-Port's own site over https (README's sample card certificate)
)
MAX_FRAME = 4 * 1024 * 1024  # one WebSocket message; larger requests come as BLOCKTXT blocks
NEW_CARD_READ_FOR = 30.0  # seconds the agent keeps trying a card that has gone in but does not answer


def check_loopback(host: str) -> str:
    """The agent talks to a card on this PC: it must never listen on a network interface."""
    if host not in LOOPBACK_HOSTS:
        raise ConfigError(f"读卡控件只能监听本机回环地址（127.0.0.1），不能使用 {host!r}；请修改 [agent] host",
                          f"the card agent listens on loopback (127.0.0.1) only, not {host!r}; "
                          "fix [agent] host", field="agent.host")
    return "127.0.0.1" if host == "localhost" else host


# -- card slots --------------------------------------------------------------------------------------


class ReaderSlot:
    """A PC/SC reader through pcscd; ``reader=None`` takes the first reader holding a card."""

    def __init__(self, reader: str | None = None) -> None:
        self._configured = reader or None
        self._current = reader or ""
        self._driver: CardDriver | None = None

    @property
    def reader(self) -> str:
        return self._current

    @property
    def watch_readers(self) -> list[str] | None:
        return [self._configured] if self._configured else None

    def _pick_reader(self) -> str:
        if self._configured:
            return self._configured
        from core.hardware.readers import slot_states

        for state in slot_states():
            if state.card_present:
                return state.reader
        raise CardRemoved("no reader holds a card")

    def driver(self) -> CardDriver:
        if self._driver is not None:
            try:
                self._driver.serial()  # still the same session? (removal or reset invalidates it)
                return self._driver
            except (CardRemoved, NoReader):
                self.reset()
        self._current = self._pick_reader()
        driver = CardDriver(PcscTransport(self._current))
        try:
            driver.connect()
        except BaseException:
            driver.disconnect()  # a card that refused the SELECT: do not leave its PC/SC handle open
            raise
        self._driver = driver
        return driver

    def reset(self) -> None:
        if self._driver is not None:
            self._driver.disconnect()
        self._driver = None

    def reset_if_gone(self) -> None:
        """After a removal event: drop the session only if its card no longer answers. The event can
        arrive late, when the next card is already in and in use; dropping that card's session would
        reset it and lose its pending challenge (an unlock or renewal released for it)."""
        if self._driver is None:
            return
        try:
            self._driver.serial()
        except (CardRemoved, NoReader):
            self.reset()


class VirtualSlot:
    """The virtual card in this process, no pcscd (development and tests)."""

    def __init__(self, card: VirtualCard, reader: str = "eportcard virtual card") -> None:
        self.card = card
        self._reader = reader
        self._driver: CardDriver | None = None

    @classmethod
    def from_file(cls, state_path: str | Path) -> VirtualSlot:
        return cls(VirtualCard.load(state_path))

    @property
    def reader(self) -> str:
        return self._reader

    watch_readers = None

    def driver(self) -> CardDriver:
        if self._driver is None or not self.card.present:
            self.reset()
            self._driver = CardDriver(InProcessTransport(self.card)).connect()
        return self._driver

    def reset(self) -> None:
        if self._driver is not None:
            self._driver.disconnect()
        self._driver = None

    def reset_if_gone(self) -> None:
        if not self.card.present:
            self.reset()


# -- the server --------------------------------------------------------------------------------------


def _refusal(connection: ServerConnection, zh: str, en: str) -> HttpResponse:
    return connection.respond(HTTPStatus.FORBIDDEN, f"{zh}\n{en}\n")


def host_name(header: str) -> str:
    """The name in a Host header, without the port (``[::1]:61232`` -> ``::1``)."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Agent:
    def __init__(self, slot: CardSlot, *, allowed_origins: Iterable[str], host: str = "127.0.0.1",
                 port: int = DEFAULT_PORT, watch: bool = False, tls: LocalTls | None = None,
                 tls_port: int = WSS_PORT) -> None:
        self.slot = slot
        self.allowed_origins = frozenset(o.rstrip("/") for o in (*OFFICIAL_ORIGINS, *allowed_origins))
        self.host = check_loopback(host)
        self.port = port
        self.tls = tls
        self.tls_port = tls_port
        self.watch = watch
        self.lock = asyncio.Lock()  # one request at a time per card
        self.clients: set[ServerConnection] = set()
        self._servers: list[Server] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: Any = None
        self._unread: dict[str, float] = {}  # reader -> when its card went in, while it does not answer

    @classmethod
    def from_settings(cls, settings: AgentSettings, slot: CardSlot, *, port: int | None = None,
                      watch: bool = False, tls: LocalTls | None = None, tls_port: int = WSS_PORT) -> Agent:
        return cls(slot, allowed_origins=settings.allowed_origins, host=settings.host,
                   port=settings.port if port is None else port, watch=watch, tls=tls, tls_port=tls_port)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"wss://{OFFICIAL_HOST}:{self.tls_port}"

    # -- the handshake ------------------------------------------------------------------------------

    def check_handshake(self, connection: ServerConnection, request: HttpRequest, *,
                        secure: bool = False) -> HttpResponse | None:
        """Refuse (403) a page from an origin not on the allow-list, or a Host that is not loopback."""
        origins = request.headers.get_all("Origin")
        if len(origins) > 1 or (origins and origins[0].rstrip("/") not in self.allowed_origins):
            log.warning("refused a connection from origin %s", origins)
            return _refusal(connection, "此网页无权使用读卡控件：来源不在允许列表（[agent] allowed_origins）中",
                            "this page may not use the card agent: its origin is not on the allow-list "
                            "([agent] allowed_origins)")
        host = request.headers.get("Host", "")
        allowed_hosts = {*LOOPBACK_HOSTS, *((OFFICIAL_HOST,) if secure else ())}
        if host_name(host) not in allowed_hosts:
            log.warning("refused a connection for host %r", host)
            return _refusal(connection, "请求的主机名不是本机回环地址", "the Host is not the loopback address")
        return None

    def _check_secure_handshake(self, connection: ServerConnection, request: HttpRequest) -> HttpResponse | None:
        return self.check_handshake(connection, request, secure=True)

    # -- connections --------------------------------------------------------------------------------

    async def handle(self, connection: ServerConnection) -> None:
        self.clients.add(connection)
        transfers = blocks.Reassembly()  # BLOCKTXT requests arriving on this connection
        try:
            await connection.send(protocol.encode(protocol.open_push(agent_version())))
            async for message in connection:
                text = message if isinstance(message, str) else message.decode("utf-8", errors="replace")
                if blocks.is_block(text):
                    await self._receive_block(connection, transfers, text)
                else:
                    await connection.send(protocol.encode(await self.answer(message)))
        except ConnectionClosed:
            pass
        finally:
            self.clients.discard(connection)

    async def _receive_block(self, connection: ServerConnection, transfers: blocks.Reassembly, frame: str) -> None:
        try:
            step = transfers.receive(frame, time.monotonic())
        except blocks.BlockRefused as exc:
            log.info("BLOCKTXT frame refused: %s", exc.en)
            replies = transfers.refusal(frame, exc)
        else:
            replies = step.replies
            if step.request is not None:
                replies = [*replies, await self.answer(step.request)]
        for reply in replies:
            await connection.send(protocol.encode(reply))

    async def answer(self, message: str | bytes) -> dict[str, Any]:
        try:
            request = protocol.parse_request(message)
        except EportError as exc:
            rid, method = protocol.request_id_of(message)
            log.info("bad request id=%s method=%s: %s", rid, method, exc.code)
            return protocol.failure(rid, method, exc)
        async with self.lock:
            reply = await asyncio.to_thread(dispatch, self.slot, request)
        result = reply["_args"]
        # Method, id and outcome only: the args (PINs, data to sign) never reach the log.
        log.info("%s id=%s result=%s%s", request.method, request.id, result["Result"],
                 "" if result["Result"] else " " + result["Error"][-1])
        return reply

    # -- card events --------------------------------------------------------------------------------

    def _push(self, message: dict[str, Any]) -> None:
        broadcast(self.clients, protocol.encode(message))

    async def _card_inserted(self, reader: str, atr: bytes) -> None:
        """Push ``inserted`` with the card's serial and number once the card answers.

        A card that has just gone in may not answer yet. The first failed read pushes ``unreadable``;
        the watcher then offers the card again at each poll while it stays in, and the read that
        succeeds pushes ``inserted``. A card that has not answered for NEW_CARD_READ_FOR seconds
        (not an E-Port card, a broken one) is left alone until it is taken out.
        """
        first_try = reader not in self._unread
        went_in = self._unread.setdefault(reader, time.monotonic())
        async with self.lock:
            try:
                info = await asyncio.to_thread(lambda: self.slot.driver().card_info())
            except Exception as exc:  # EportError, or pyscard failing in a way not foreseen
                error = exc.code if isinstance(exc, EportError) else "card_error"
                if first_try:
                    log.info("card inserted in %s does not answer (%s)", reader, error)
                    self._push(protocol.card_event("unreadable", reader, atr=atr.hex().upper(), error=error))
                self._try_again_later(reader, went_in)
                return
        self._unread.pop(reader, None)  # (a removal handled meanwhile may have dropped it already)
        log.info("card inserted in %s", reader)
        self._push(protocol.card_event("inserted", reader, atr=atr.hex().upper(), serial=info.serial,
                                       cardId=card_id(info)))

    def _try_again_later(self, reader: str, went_in: float) -> None:
        if self._watcher is None:
            return
        if time.monotonic() - went_in < NEW_CARD_READ_FOR:
            self._watcher.offer_again(reader)
        else:
            log.warning("the card in %s has not answered for %.0f s: left alone until it is taken out",
                        reader, NEW_CARD_READ_FOR)

    async def _card_removed(self, reader: str) -> None:
        self._unread.pop(reader, None)
        async with self.lock:
            reset = getattr(self.slot, "reset_if_gone", None)
            if reset is not None:
                await asyncio.to_thread(reset)
        log.info("card removed from %s", reader)
        self._push(protocol.card_event("removed", reader))

    def _start_watcher(self) -> None:
        from core.hardware.readers import CardWatcher

        loop = self._loop
        assert loop is not None

        def on_insert(reader: str, atr: bytes) -> None:
            asyncio.run_coroutine_threadsafe(self._card_inserted(reader, atr), loop)

        def on_remove(reader: str) -> None:
            asyncio.run_coroutine_threadsafe(self._card_removed(reader), loop)

        self._watcher = CardWatcher(on_insert, on_remove,
                                    readers=getattr(self.slot, "watch_readers", None)).start()

    # -- life cycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        plain = await serve(self.handle, self.host, self.port, process_request=self.check_handshake,
                            server_header="eportcard-agent", max_size=MAX_FRAME)
        self._servers = [plain]
        self.port = plain.sockets[0].getsockname()[1]  # the real port when 0 was asked
        if self.tls is not None:
            try:
                secure = await serve(self.handle, self.host, self.tls_port, ssl=self.tls.server_context(),
                                     process_request=self._check_secure_handshake,
                                     server_header="eportcard-agent", max_size=MAX_FRAME)
            except BaseException:
                await self._close_servers()
                raise
            self._servers.append(secure)
            self.tls_port = secure.sockets[0].getsockname()[1]
        if self.watch:
            self._start_watcher()
        log.info("card agent listening on %s%s (reader %s)", self.url,
                 f" and {self.tls_url}" if self.tls else "", self.slot.reader or "any")

    async def _close_servers(self) -> None:
        for server in self._servers:
            server.close()
            await server.wait_closed()
        self._servers = []

    async def stop(self) -> None:
        if self._watcher is not None:
            await asyncio.to_thread(self._watcher.stop)
            self._watcher = None
        await self._close_servers()
        reset = getattr(self.slot, "reset_if_gone", None)
        if reset is not None:
            reset()

    @property
    def bound_addresses(self) -> list[tuple[Any, ...]]:
        return [s.getsockname() for server in self._servers for s in server.sockets]

    async def run(self, stop: asyncio.Event | None = None) -> None:
        await self.start()
        try:
            await (stop.wait() if stop is not None else asyncio.Future())
        finally:
            await self.stop()


class BackgroundAgent:
    """Runs an :class:`Agent` on its own event loop in a thread (tests, the demo, the web e2e run)."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="card-agent", daemon=True)

    def start(self) -> BackgroundAgent:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.agent.start(), self._loop).result(timeout=30)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.agent.stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    @property
    def url(self) -> str:
        return self.agent.url


@contextlib.contextmanager
def running_agent(agent: Agent) -> Iterator[BackgroundAgent]:
    background = BackgroundAgent(agent).start()
    try:
        yield background
    finally:
        background.stop()
