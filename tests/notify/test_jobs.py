"""Scheduled jobs: a lease per job in the database, so runners on several machines run each job once;
two ``eportcard jobs run-due`` processes at once never send a message twice (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from notifykit import (
    TencentStandIn,
    database_url,
    deployment_config,
    notify_services,
    queue_messages,
)

from core import hookimpl
from core.config import JobsSettings, SmsSettings
from core.errors import ConfigError
from core.notify.base import GatewayKind, Outgoing
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.rules import Text
from core.services.jobs import JOBS, Job, Scheduler
from core.store.jobs import JobLeases
from core.store.notify import Outbox

ROOT = Path(__file__).resolve().parents[2]


class GatedSms:
    """A gateway (added by a plugin through register_gateways) that holds its first send until released."""

    name, channel, keeps_text = "gated", "sms", False

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.sent: list[str] = []

    def send(self, message: Outgoing) -> str:
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(30), "the test never released the gateway"
        self.sent.append(message.key)
        return ""


def _gated_services(store, tmp_path, clock):
    gate = GatedSms()

    class Plugin:
        @hookimpl
        def register_gateways(self):
            return [GatewayKind("gated", "sms", lambda context: gate)]

    services = notify_services(store, tmp_path, clock, sms=SmsSettings(gateway="gated"))
    pm = get_plugin_manager(enabled=["shenzhen"], extra=[("gated", Plugin())])
    return attrs.evolve(services, rulebook=Rulebook(pm)), gate


def test_a_runner_holding_a_job_keeps_the_other_runner_out(store, tmp_path, clock):
    services, gate = _gated_services(store, tmp_path, clock)
    queue_messages(services, 5)
    first: list = []
    runner = threading.Thread(target=lambda: first.extend(Scheduler(services).run_due(owner="machine-a")))
    runner.start()
    assert gate.entered.wait(30)  # machine A is sending its first message: it holds deliver_messages
    second = {r.name: r for r in Scheduler(services).run_due(owner="machine-b")}
    # B finds every job either run by A already (not due) or held by A: it runs none
    assert all(not r.ran for r in second.values())
    # a worker that only delivers (the same claim per message) skips the message A holds
    report = services.notifications.deliver_due()
    assert report.sent == 4
    gate.release.set()
    runner.join(30)
    assert {r.name: r.ran for r in first} == {job.name: True for job in JOBS}
    assert sorted(gate.sent) == sorted(f"test:{n}:sms" for n in range(5))  # each once
    with services.store.transaction(readonly=True) as tx:
        rows = {row.name: row for row in JobLeases(tx).all()}
    assert all(row.runs == 1 and row.lease_owner == "" for row in rows.values())


def test_a_job_runs_again_when_it_is_due_and_a_failure_is_recorded(store, tmp_path, clock):
    services = notify_services(store, tmp_path, clock)
    calls: list[str] = []

    def broken(_services):
        raise RuntimeError("disk full")

    jobs = (Job("one", Text("一", "one"), timedelta(hours=1), lambda s: calls.append("one") or "did one"),
            Job("broken", Text("坏", "broken"), timedelta(hours=1), broken),
            Job("two", Text("二", "two"), timedelta(hours=1), lambda s: calls.append("two") or "did two"))
    scheduler = Scheduler(services, jobs)
    results = {r.name: r for r in scheduler.run_due()}
    assert calls == ["one", "two"] and not results["broken"].ok and "disk full" in results["broken"].summary
    assert all(not r.ran for r in scheduler.run_due())  # nothing due an instant later
    clock.now += timedelta(minutes=59)
    assert all(not r.ran for r in scheduler.run_due())
    clock.now += timedelta(minutes=1)
    assert [r.name for r in scheduler.run_due() if r.ran] == ["one", "broken", "two"]
    status = {s.job.name: s.row for s in scheduler.status()}
    assert status["broken"].last_result == "failed" and status["one"].last_result == "ok"
    assert status["one"].runs == 2 and status["one"].next_run_at == clock.now + timedelta(hours=1)


def test_a_lease_left_by_a_dead_runner_runs_out(store, tmp_path, clock):
    services = notify_services(store, tmp_path, clock)
    job = Job("one", Text("一", "one"), timedelta(hours=1), lambda s: "ok", lease=timedelta(minutes=10))
    with services.store.transaction() as tx:
        JobLeases(tx).ensure(["one"], clock.now)
        assert JobLeases(tx).take("one", "dead-runner", clock.now, clock.now + job.lease)
    assert not Scheduler(services, (job,)).run_due()[0].ran
    clock.now += timedelta(minutes=11)
    assert Scheduler(services, (job,)).run_due()[0].ran


def test_disabled_jobs_and_intervals_come_from_the_config(store, tmp_path, clock):
    services = notify_services(store, tmp_path, clock)
    configured = attrs.evolve(services, settings=attrs.evolve(services.settings, jobs=JobsSettings(
        disabled=("crl_refresh",), every_minutes={"deliver_messages": 1})))
    results = {r.name: r for r in Scheduler(configured).run_due()}
    assert "crl_refresh" not in results and results["deliver_messages"].ran
    clock.now += timedelta(minutes=1)
    assert [r.name for r in Scheduler(configured).run_due() if r.ran] == ["deliver_messages"]
    for jobs in (JobsSettings(disabled=("backups",)), JobsSettings(every_minutes={"nope": 5}),
                 JobsSettings(every_minutes={"deliver_messages": 0})):
        with pytest.raises(ConfigError) as refused:
            Scheduler(attrs.evolve(services, settings=attrs.evolve(services.settings, jobs=jobs)))
        assert refused.value.field.startswith("jobs.") and refused.value.zh and refused.value.en


# ---- two processes --------------------------------------------------------------------------------------------

def test_two_run_due_processes_at_once_send_each_message_once(store, tmp_path, clock):
    services = notify_services(store, tmp_path, clock)
    queue_messages(services, 40)
    with TencentStandIn() as tencent:
        config = deployment_config(tmp_path, database_url(store), tencent.endpoint)
        command = [sys.executable, "-c", "from core.cli import main; main()", "-c", str(config), "jobs", "run-due"]
        runs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
        outputs = [run.communicate(timeout=240) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    keys = Counter(request["SessionContext"] for request in tencent.accepted)
    assert tencent.refused == [] and sorted(keys) == sorted(f"test:{n}:sms" for n in range(40))
    assert set(keys.values()) == {1}
    with services.store.transaction(readonly=True) as tx:
        assert Outbox(tx).counts() == {"pending": 0, "sent": 40, "dead": 0}
        runs_of = {row.name: row.runs for row in JobLeases(tx).all()}
    assert runs_of == {job.name: 1 for job in JOBS}
    ran = [line.split()[0] for out, _err in outputs for line in out.splitlines() if line.split()[1] == "ok"]
    assert sorted(ran) == sorted(job.name for job in JOBS)  # each job by one of the two
