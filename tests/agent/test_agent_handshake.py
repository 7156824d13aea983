"""Who may connect: the official single-window and E-Port origins by default, the deployment's own web front,
nobody else (``null`` included); Host names the loopback address, or on the TLS listener the official name."""

from __future__ import annotations

import json
import socket
import ssl

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from core.agent.server import OFFICIAL_ORIGINS, Agent, host_name, running_agent
from core.agent.tls import LocalTls

from .conftest import DEVICE_NO, ORIGIN, Client


@pytest.mark.parametrize("origin", ["https://app.singlewindow.cn", "http://www.singlewindow.cn",
                                    "https://www.chinaport.gov.cn", "http://www.chinaport.gov.cn"])
def test_official_sites_are_let_in_with_no_configuration(rig, origin):
    assert origin in OFFICIAL_ORIGINS
    client = Client(rig.url, origin=origin)
    assert client.call("cus-sec_SpcGetCardID")["Data"] == [DEVICE_NO]
    client.close()


@pytest.mark.parametrize("origin", ["null", "https://app.singlewindow.cn.evil.example", "http://app.singlewindow.cn",
                                    "https://singlewindow.cn", "http://127.0.0.1:8001"])
def test_everything_else_is_refused_before_the_upgrade(rig, origin):
    with pytest.raises(InvalidStatus) as refused:
        Client(rig.url, origin=origin)
    assert refused.value.response.status_code == 403
    body = refused.value.response.body.decode()
    assert "allow-list" in body and "允许列表" in body
    assert Client(rig.url, origin=ORIGIN).call("cus-sec_SpcGetCardID")["Data"] == [DEVICE_NO]  # still serving


@pytest.mark.parametrize(("header", "name"), [("127.0.0.1:61232", "127.0.0.1"), ("[::1]:61232", "::1"),
                                              ("localhost", "localhost"), ("wss.singlewindow.cn:61231",
                                                                           "wss.singlewindow.cn")])
def test_host_name(header, name):
    assert host_name(header) == name


def _upgrade(sock: socket.socket, host: str) -> bytes:
    sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    return sock.recv(1024)


def test_the_official_name_is_a_host_only_on_the_tls_listener(tmp_path, rig):
    tls = LocalTls(tmp_path / "tls").ensure()
    assert rig.slot is not None
    with running_agent(Agent(rig.slot, allowed_origins=[], port=0, tls=tls, tls_port=0)) as background:
        agent = background.agent
        context = ssl.create_default_context(cafile=str(tls.ca_path))
        # TLS by the official name (SNI and certificate check), as a browser reaching it through the hosts line.
        with socket.create_connection(("127.0.0.1", agent.tls_port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="wss.singlewindow.cn") as secure:
            assert _upgrade(secure, f"wss.singlewindow.cn:{agent.tls_port}").startswith(b"HTTP/1.1 101")
        with socket.create_connection(("127.0.0.1", agent.tls_port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="wss.singlewindow.cn") as secure:
            assert _upgrade(secure, "rebound.example").startswith(b"HTTP/1.1 403")
        with socket.create_connection(("127.0.0.1", agent.port), timeout=10) as plain:
            assert _upgrade(plain, f"wss.singlewindow.cn:{agent.port}").startswith(b"HTTP/1.1 403")
        with connect(f"wss://localhost:{agent.tls_port}", ssl=context, proxy=None) as ws:
            assert json.loads(ws.recv(timeout=10))["_method"] == "open"
            ws.send(json.dumps({"_method": "cus-sec_SpcGetCardID", "_id": 0, "args": {}}))
            assert json.loads(ws.recv(timeout=30))["_args"]["Data"] == [DEVICE_NO]
        assert {address[0] for address in agent.bound_addresses} == {"127.0.0.1"}
