"""Issue #20 item 5: /healthz (alive, no database), /readyz (database, blob store, CA; version and schema
revision; 503 when not ready), /metrics (Prometheus: requests and latency by route template, applications
and overdue ones by region and state, SMS and job outcomes, CA signatures) to the addresses
[web] metrics_allow names only, the daily jobs noting their outcomes, `eportcard --version`, and a real
`eportcard serve` answering all three with JSON logs."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import attrs
import httpx
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from webkit import enterprise, submitted

from core import __version__
from core.cli import main
from core.config import WebSettings
from core.pki.ca import CertificateAuthority
from core.services import DatabaseUnavailable, Services
from core.services.cards import CardKeys
from core.store.jobs import job_outcomes
from core.web.app import create_app

LOCAL = ("127.0.0.1", 50123)
PASSPHRASE = "ops tests passphrase 2026"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


def unreachable(*args, **kwargs):
    raise DatabaseUnavailable("SELECT 1", {}, Exception("connection refused"))


# ---- /healthz and /readyz ----------------------------------------------------------------------------------

def test_healthz_answers_without_the_database(client: TestClient, services: Services, monkeypatch):
    monkeypatch.setattr(services.store, "transaction", unreachable)
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "regions": ["changchun", "shenzhen"]}
    assert answer.headers["cache-control"] == "no-store"


def test_readyz_reports_each_part_with_the_version_and_schema_revision(services: Services, tmp_path: Path):
    services.settings.blob_dir.mkdir(exist_ok=True)
    client = TestClient(create_app(services))
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    head = services.store.head_revision()
    assert body == {"status": "ready", "version": __version__, "schema_revision": head, "schema_head": head,
                    "checks": {"database": "ok", "blobs": "ok", "ca": "off"}}

    ca = CertificateAuthority.init(tmp_path / "ca", "电子口岸测试CA", PASSPHRASE, "ec-p256")
    with_ca = attrs.evolve(services, card_keys=CardKeys(ca, bytes(range(32))))
    assert TestClient(create_app(with_ca)).get("/readyz").json()["checks"]["ca"] == "ok"
    with_ca.clock.now += timedelta(days=365 * 30)  # the CA certificate has run out
    late = TestClient(create_app(with_ca)).get("/readyz")
    assert late.status_code == 503 and late.json()["checks"]["ca"].startswith("certificate expired on ")


def test_readyz_is_503_without_the_database_or_the_blob_store(services: Services, monkeypatch):
    client = TestClient(create_app(services))
    missing = client.get("/readyz")
    assert missing.status_code == 503 and missing.json()["status"] == "not_ready"
    assert missing.json()["checks"]["blobs"] == f"missing: {services.settings.blob_dir}"
    services.settings.blob_dir.mkdir(exist_ok=True)
    monkeypatch.setattr(services.store, "transaction", unreachable)
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json()["checks"] == {"database": "unavailable (OperationalError)", "blobs": "ok", "ca": "off"}
    assert down.json()["schema_revision"] is None and "connection refused" not in down.text


# ---- /metrics ----------------------------------------------------------------------------------------------

def test_metrics_answer_only_the_addresses_allowed(services: Services):
    app = create_app(services)
    assert TestClient(app).get("/metrics").status_code == 404  # "testclient" is no allowed address
    assert TestClient(app, client=("203.0.113.7", 5000)).get("/metrics").status_code == 404
    for address in ("127.0.0.1", "::1"):
        answer = TestClient(app, client=(address, 5000)).get("/metrics")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    wider = attrs.evolve(services, settings=attrs.evolve(services.settings, web=attrs.evolve(
        services.settings.web, metrics_allow=("10.0.0.0/8",))))
    app = create_app(wider)
    assert TestClient(app, client=("10.20.30.40", 5000)).get("/metrics").status_code == 200
    assert TestClient(app, client=LOCAL).get("/metrics").status_code == 404


def test_metrics_count_requests_by_route_template_and_the_queue_by_state(services: Services):
    first, second = submitted(services, 1), submitted(services, 2)
    client = TestClient(create_app(services), client=LOCAL)
    before = client.get("/metrics").text
    path = "/api/applications/{app_id}"
    was = value(before, "eportcard_http_requests_total", method="GET", route=path, status="401") or 0
    for app_id in (first, second):
        assert client.get(f"/api/applications/{app_id}").status_code == 401
    after = client.get("/metrics").text
    assert value(after, "eportcard_http_requests_total", method="GET", route=path, status="401") == was + 2
    assert value(after, "eportcard_http_request_duration_seconds_count", method="GET", route=path) >= 2
    assert not any(first in name or first in str(labels) for name, labels in samples(after))
    assert value(after, "eportcard_applications", region="shenzhen", state="submitted") == 2
    assert value(after, "eportcard_applications_overdue", region="shenzhen", state="submitted") == 0
    assert value(after, "eportcard_database_up") == 1 and value(after, "eportcard_build_info", version=__version__) == 1

    services.clock.now += timedelta(days=60)  # every deadline passed
    late = client.get("/metrics").text
    assert value(late, "eportcard_applications_overdue", region="shenzhen", state="submitted") == 2


def test_metrics_count_sms_outcomes_and_ca_signatures(services: Services, tmp_path: Path):
    client = TestClient(create_app(services), client=LOCAL)
    before = client.get("/metrics").text
    ent, csrf = enterprise(services, 1)
    made = ent.post("/api/applications", headers=csrf, json={"business": "enrol"}).json()
    ent.patch(f"/api/applications/{made['id']}", headers=csrf, json={
        "version": made["version"], "agent": {"name": "张三", "id_number": "110101199003070019",
                                              "phone": "13900000001", "id_valid_from": "2020-01-01"}})
    assert ent.post(f"/api/applications/{made['id']}/sms_code", headers=csrf).status_code == 202
    assert ent.post(f"/api/applications/{made['id']}/sms_code", headers=csrf).status_code == 400  # too soon
    ca = CertificateAuthority.init(tmp_path / "ca", "电子口岸测试CA", PASSPHRASE, "ec-p256")
    with_ca = attrs.evolve(services, card_keys=CardKeys(ca, bytes(range(32))))
    assert TestClient(create_app(with_ca)).get("/pki/crl.der").status_code == 200
    after = client.get("/metrics").text

    def grew(name: str, **labels: str) -> float:
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert grew("eportcard_sms_codes_total", event="send", purpose="submit", outcome="sent") == 1
    assert grew("eportcard_sms_codes_total", event="send", purpose="submit", outcome="too_soon") == 1
    assert grew("eportcard_ca_signatures_total", signed="crl") == 1


def test_metrics_without_the_database_still_answer(services: Services, monkeypatch):
    client = TestClient(create_app(services), client=LOCAL)
    monkeypatch.setattr(services.store, "transaction", unreachable)
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert value(answer.text, "eportcard_database_up") == 0 and "eportcard_http_requests_total" in answer.text


# ---- the daily jobs ----------------------------------------------------------------------------------------

def test_the_daily_jobs_note_their_outcomes_for_metrics(tmp_path: Path):
    config = tmp_path / "eportcard.toml"
    runner = CliRunner()
    assert runner.invoke(main, ["-c", str(config), "init"]).exit_code == 0
    assert runner.invoke(main, ["-c", str(config), "audit", "verify"]).exit_code == 0
    assert runner.invoke(main, ["-c", str(config), "audit", "checkpoint", "--out", str(tmp_path / "cp.json")]
                         ).exit_code == 0
    assert runner.invoke(main, ["-c", str(config), "ca", "expire-renewals"]).exit_code == 0
    jobs = {job.job: job for job in job_outcomes(tmp_path / "jobs")}
    assert set(jobs) == {"audit_verify", "audit_checkpoint", "ca_expire_renewals"}
    assert all(job.exit_code == 0 and job.last_success == job.last_run for job in jobs.values())
    assert oct((tmp_path / "jobs" / "audit_verify.json").stat().st_mode & 0o777) == "0o600"

    config.write_text(config.read_text(encoding="utf-8").replace(
        "[database]\n", '[database]\nurl = "postgresql+psycopg://nobody:x@127.0.0.1:9/none"\n'), encoding="utf-8")
    assert runner.invoke(main, ["-c", str(config), "audit", "verify"]).exit_code == 2
    failed = {job.job: job for job in job_outcomes(tmp_path / "jobs")}["audit_verify"]
    assert failed.exit_code == 2 and failed.last_success == jobs["audit_verify"].last_success
    assert failed.last_run > jobs["audit_verify"].last_run


def test_metrics_report_the_jobs(services: Services):
    from core.store.jobs import record_job

    record_job(Path(services.settings.root) / "jobs", "audit_verify", 0)
    record_job(Path(services.settings.root) / "jobs", "audit_verify", 1)
    text = TestClient(create_app(services), client=LOCAL).get("/metrics").text
    assert value(text, "eportcard_job_last_exit_code", job="audit_verify") == 1
    ran = value(text, "eportcard_job_last_run_timestamp_seconds", job="audit_verify")
    success = value(text, "eportcard_job_last_success_timestamp_seconds", job="audit_verify")
    assert ran and success and ran >= success > time.time() - 60


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output == f"eportcard {__version__}\n"


def test_default_settings_allow_loopback_only():
    assert WebSettings().metrics_allow == ("127.0.0.1", "::1")


# ---- a real server -----------------------------------------------------------------------------------------

def test_a_real_server_answers_health_readiness_and_metrics_and_logs_json(tmp_path: Path):
    config = tmp_path / "eportcard.toml"
    assert CliRunner().invoke(main, ["-c", str(config), "init", "--region", "shenzhen"]).exit_code == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("EPORTCARD_CA_PASSPHRASE", "EPORTCARD_CONFIG")}
    server = subprocess.Popen([shutil.which("eportcard") or "eportcard", "-c", str(config), "serve", "--port",
                               str(port), "--log-format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                health = httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()
                time.sleep(0.1)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ready = httpx.get(f"{base}/readyz", headers={"X-Request-ID": "probe-1"})
        assert ready.status_code == 200 and ready.json()["version"] == __version__
        assert ready.headers["x-request-id"] == "probe-1"
        metrics = httpx.get(f"{base}/metrics")
        assert metrics.status_code == 200
        assert value(metrics.text, "eportcard_http_requests_total", method="GET", route="/readyz", status="200") == 1
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert f"serving on http://127.0.0.1:{port}" in out
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    access = [e for e in lines if e["logger"] == "core.web.access"]
    probe_line = next(e for e in access if e["request_id"] == "probe-1")
    assert probe_line["path"] == "/readyz" and probe_line["status"] == 200 and probe_line["method"] == "GET"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT.*", probe_line["time"]) and "duration_ms" in probe_line
    assert any(e["logger"].startswith("uvicorn") for e in lines)  # the server's own lines, in the same format
    # Every line is JSON but what serve says before it starts (here: no SMS gateway is configured).
    assert [line for line in err.splitlines() if not line.startswith("{")] == [
        line for line in err.splitlines() if line.startswith("eportcard: ")], err
