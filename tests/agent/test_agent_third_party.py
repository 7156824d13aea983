"""Outside clients: a third-party signing script, card insert/remove pushes, and the `eportcard agent` CLI.

All of these go through the real pcscd + vpcd reader; the script and the CLI run as subprocesses.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import textwrap
import time

import pytest
from websockets.sync.client import connect

from .conftest import DEVICE_NO, ORIGIN, PIN, ROOT, SERIAL, AgentRig, Client, personalise

# Imports nothing from eportcard: only websockets and the standard library, as a customs tool would.
THIRD_PARTY_SCRIPT = textwrap.dedent('''
    import base64, json, sys
    from websockets.sync.client import connect

    url, in_data, passwd, out = sys.argv[1:5]
    with connect(url, proxy=None) as ws:
        opened = json.loads(ws.recv(timeout=10))
        assert opened["_method"] == "open", opened

        def call(method, request_id, args):
            ws.send(json.dumps({"_method": method, "_id": request_id, "args": args}))
            while True:
                reply = json.loads(ws.recv(timeout=30))
                if reply["_method"] == method and reply["_id"] == request_id:
                    assert reply["_status"] == "00", reply
                    if not reply["_args"]["Result"]:
                        sys.exit("failed: " + " | ".join(reply["_args"]["Error"]))
                    return reply["_args"]["Data"]

        signature, cert_no = call("cus-sec_SpcSignDataAsPEM", 1, {"inData": in_data, "passwd": passwd})
        (certificate,) = call("cus-sec_SpcGetSignCertAsPEM", 2, {})
    open(out + "/data.txt", "wb").write(in_data.encode("utf-8"))
    open(out + "/signature.bin", "wb").write(base64.b64decode(signature))
    open(out + "/cert.pem", "w").write("-----BEGIN CERTIFICATE-----\\n" + certificate
                                        + "\\n-----END CERTIFICATE-----\\n")
    print(cert_no)
''')


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("algorithm", ["rsa2048", "ec-p256"])
def test_third_party_script_signature_verifies_with_openssl(agent_reader, tmp_path, ca, algorithm):
    state = tmp_path / "card.json"
    cert = personalise(state, ca, algorithm=algorithm, kind="operator")
    rig = AgentRig("pcsc", state, cert)
    rig.start()
    try:
        script = tmp_path / "sign_declaration.py"
        script.write_text(THIRD_PARTY_SCRIPT, encoding="utf-8")
        in_data = '<ds:SignedInfo><ds:Reference URI="">报关单 5301 20260302</ds:Reference></ds:SignedInfo>'
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        run = subprocess.run([sys.executable, str(script), rig.url, in_data, PIN, str(tmp_path)],
                             cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env, check=False)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == format(cert.serial_number, "x")
    finally:
        rig.stop()

    pubkey = _openssl("x509", "-in", str(tmp_path / "cert.pem"), "-pubkey", "-noout")
    assert pubkey.returncode == 0, pubkey.stderr
    (tmp_path / "pub.pem").write_text(pubkey.stdout)
    verified = _openssl("dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                        str(tmp_path / "signature.bin"), str(tmp_path / "data.txt"))
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, verified.stdout + verified.stderr
    # And a tampered document does not verify.
    (tmp_path / "data.txt").write_text(in_data.replace("5301", "5302"), encoding="utf-8")
    tampered = _openssl("dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                        str(tmp_path / "signature.bin"), str(tmp_path / "data.txt"))
    assert tampered.returncode != 0


def test_card_insert_and_remove_are_pushed(agent_reader, tmp_path, ca):
    state = tmp_path / "card.json"
    cert = personalise(state, ca)
    rig = AgentRig("pcsc", state, cert, watch=True)
    rig.start()
    try:
        client = Client(rig.url)
        rig.remove()
        removed = client.wait_push("removed")
        assert removed["_id"] == 0 and removed["_status"] == "00" and removed["_args"]["Result"] is True
        assert removed["_args"]["Data"][0] == {"event": "removed", "reader": agent_reader}
        assert client.call("eport-card_Status")["Data"][0]["present"] is False
        client.pushes.clear()  # what the agent said of the card before its removal (read or not)

        rig.insert()
        inserted = client.wait_push("inserted")["_args"]["Data"][0]
        assert inserted["reader"] == agent_reader and inserted["serial"] == SERIAL
        assert inserted["cardId"] == DEVICE_NO and inserted["atr"].startswith("3B")
        assert client.call("cus-sec_SpcGetCardID")["Data"] == [DEVICE_NO]
        client.close()
    finally:
        rig.stop()


def test_a_card_that_does_not_answer_at_first_is_pushed_once_it_does(agent_reader, tmp_path, ca):
    """A card that goes in but refuses its first reads (still starting up, a busy machine) is reported
    ``unreadable``, then ``inserted`` with its serial as soon as a read succeeds: no push depends on how
    quickly the card answers. The card counts its refusals, so this runs the same on any machine."""
    state = tmp_path / "card.json"
    rig = AgentRig("pcsc", state, personalise(state, ca), watch=True)
    rig.start()
    try:
        client = Client(rig.url)
        rig.remove()
        client.wait_push("removed")
        client.pushes.clear()  # what the agent said of the card before its removal (read or not)

        rig.card_rig.insert(fail_first=8)  # more refusals than any fixed number of quick retries covers
        inserted = client.wait_push("inserted")["_args"]["Data"][0]
        assert inserted["serial"] == SERIAL and inserted["cardId"] == DEVICE_NO, inserted
        unreadable = client.wait_push("unreadable")["_args"]["Data"][0]  # came first, kept by wait_push
        # card_error: the card's refusal; card_removed if pcscd had not caught up with the insertion yet
        assert unreadable.pop("error") in ("card_error", "card_removed"), unreadable
        assert unreadable == {"event": "unreadable", "reader": agent_reader, "atr": inserted["atr"]}
        assert [p["_args"]["Data"][0]["event"] for p in client.pushes] == []  # one of each, nothing else
        assert client.call("cus-sec_SpcGetCardID")["Data"] == [DEVICE_NO]
        client.close()
    finally:
        rig.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_agent(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the agent exited: {process.communicate()[1]}")
        try:
            with connect(url, origin=ORIGIN, proxy=None, open_timeout=2):  # type: ignore[arg-type]
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("the agent never accepted a connection")


def test_cli_serves_the_reader_and_never_logs_pins(agent_reader, tmp_path, ca):
    state = tmp_path / "card.json"
    rig = AgentRig("pcsc", state, personalise(state, ca))
    rig.insert()
    port, wss_port = _free_port(), _free_port()
    tls_dir = tmp_path / "tls"
    process = subprocess.Popen(["eportcard", "--config", str(tmp_path / "none.toml"), "agent", "--reader",
                                agent_reader, "--port", str(port), "--wss-port", str(wss_port),
                                "--tls-dir", str(tls_dir)], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"ws://127.0.0.1:{port}"
        _wait_for_agent(url, process)
        client = Client(url)
        assert client.call("cus-sec_SpcGetCardID")["Data"] == [DEVICE_NO]
        assert client.call("cus-sec_SpcVerifyPIN", {"passwd": "97531864"})["Result"] is False
        assert client.call("cus-sec_SpcVerifyPIN", {"passwd": PIN})["Result"] is True
        client.close()
        # The first run made the local CA; wss answers with a certificate from it.
        context = ssl.create_default_context(cafile=str(tls_dir / "ca.pem"))
        with connect(f"wss://localhost:{wss_port}", ssl=context, proxy=None) as secure:
            assert json.loads(secure.recv(timeout=10))["_method"] == "open"
            secure.send(json.dumps({"_method": "cus-sec_SpcGetCardID", "_id": 0, "args": {}}))
            assert json.loads(secure.recv(timeout=30))["_args"]["Data"] == [DEVICE_NO]
    finally:
        process.terminate()
        _, log = process.communicate(timeout=30)
        rig.remove()
    assert process.returncode == 0, log
    assert "cus-sec_SpcVerifyPIN" in log and "Err:wrong_pin" in log
    assert PIN not in log and "97531864" not in log


def test_cli_refuses_a_non_loopback_host(tmp_path):
    config = tmp_path / "eportcard.toml"
    config.write_text('[agent]\nhost = "0.0.0.0"\n', encoding="utf-8")
    run = subprocess.run(["eportcard", "--config", str(config), "agent", "--port", str(_free_port())],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
                         env={**os.environ, "HOME": str(tmp_path / "home"), "XDG_DATA_HOME": ""})
    assert run.returncode == 1
    assert "127.0.0.1" in run.stderr and "loopback" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "home").exists()  # refused before the local CA was made


def test_cli_reports_a_taken_wss_port_and_frees_the_ws_port(tmp_path, ca):
    state = tmp_path / "card.json"
    personalise(state, ca)
    port = _free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run = subprocess.run(["eportcard", "--config", str(tmp_path / "none.toml"), "agent", "--virtual", str(state),
                              "--port", str(port), "--wss-port", str(taken.getsockname()[1]),
                              "--tls-dir", str(tmp_path / "tls")],
                             cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "无法启动读卡控件" in run.stderr and "cannot start the card agent" in run.stderr
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # the ws listener it had opened was closed


def test_cli_virtual_card(tmp_path, ca):
    state = tmp_path / "card.json"
    personalise(state, ca)
    port = _free_port()
    process = subprocess.Popen(["eportcard", "--config", str(tmp_path / "none.toml"), "agent", "--virtual",
                                str(state), "--port", str(port), "--no-wss"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"ws://127.0.0.1:{port}"
        _wait_for_agent(url, process)
        client = Client(url)
        status = client.call("eport-card_Status")["Data"][0]
        assert status["serial"] == SERIAL and status["cardId"] == DEVICE_NO
        client.close()
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert json.loads(state.read_text())["serial"] == SERIAL
