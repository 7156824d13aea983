"""Serving the test pages and driving Debian's chromium at them, for the agent's browser tests.

Pages are served by a small threaded HTTP(S) server on a free loopback port. Chromium reaches the
official addresses (``ws://127.0.0.1:61232``, ``wss://wss.singlewindow.cn:61231``, ``http://www.singlewindow.cn``)
through ``--host-resolver-rules`` MAP rules to the free ports the test uses, so the pages keep the
official URLs unchanged and no fixed port or /etc/hosts line is touched. Chromium runs with a throwaway
HOME: its NSS database (``~/.pki/nssdb``) is the one ``eportcard agent trust`` fills.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

PAGES = Path(__file__).parent / "pages"
CHROMIUM = "/usr/bin/chromium"  # Debian's; never `playwright install`
# The machine's network is closed: without the background-networking flags chromium keeps trying.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Pages(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, directory=str(PAGES), **kwargs)

    def log_message(self, format: str, *args) -> None:  # quiet: the test output is the report
        pass


@contextlib.contextmanager
def serving_pages(context: ssl.SSLContext | None = None) -> Iterator[int]:
    """tests/agent/pages over http (or https with ``context``) on a free loopback port; yields the port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def map_rules(mapping: dict[str, int]) -> str:
    """``--host-resolver-rules``: each ``host:port`` to the same loopback host at a test port."""
    return ", ".join(f"MAP {address} 127.0.0.1:{port}" for address, port in mapping.items())


@contextlib.contextmanager
def chromium(home: Path, mapping: dict[str, int]) -> Iterator[Browser]:
    """Debian's chromium with ``home`` as HOME (its NSS database) and the address mapping; fails when missing."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    home.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules={map_rules(mapping)}"])
        try:
            yield browser
        finally:
            browser.close()
