"""Four scheduler workers, three companies, one PostgreSQL control plane, one S3 data root.

Each worker is a real ``lakehouse scheduler run`` process with a local folder of its own
(``LAKEHOUSE_STATE_DIR``: a separate "host", sharing no disk with the others but the extracts'
drop folders). Every company has an ingest task, two build tasks (so two workers may try to build
one company at once: the build lock must hold across processes) and a gc task, all due every few
seconds. Day folders arrive in the drop folders while the workers run, one of them late (older
than a day already built); one worker is SIGKILLed in the middle of a build and replaced by a new
one. Once every day is ingested and built, the workers get SIGTERM.

Then: every worker exited 0; no occurrence of any task succeeded twice and none was lost (each
occurrence follows the previous one's end by the interval); the killed occurrence ran again on
another worker; no two runs that hold a company's build lock overlapped in time; bronze holds each
fed day's rows exactly once; the last build covers the last day; ``verify`` passes for every company.

The short run (``make test``) feeds 3 days over about a minute; the long run
(``make test-reliability``) feeds 8.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from lakehouse.dataplane.schemas import RAW_SCHEMAS
from lakehouse.dataplane.store import current_of
from lakehouse.db.records import DatasetVersionRecord, PipelineRunRecord, TaskRun
from lakehouse.runtime import open_store
from lakehouse.settings import Settings
from tests.reliability.harness import REPO, Extract, Lakehouse, Running
from tests.reliability.plugin import long_run
from tests.reliability.system import ThrowawayPostgres

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.xdist_group("workers-s3"),
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.s3,
]

COMPANIES = ("acme", "beta", "gamma")
WORKERS = 4
#: Seconds between occurrences of each task (the shortest interval a schedule accepts is 10 s).
EVERY = 10
LEASE_SECONDS = 12
#: Pipelines that hold the company's build lock while they run.
LOCKED_PIPELINES = ("dbt_build", "transcript_pipeline", "events_refresh")
SETTLE_TIMEOUT = 900.0


def _days() -> tuple[int, int]:
    """(days in the drop folders when the workers start, days fed while they run)."""
    return (2, 8) if long_run() else (2, 2)


# --- the setup --------------------------------------------------------------------------------------


class Fleet:
    """The shared planes, the companies' drop folders, and the worker processes."""

    def __init__(self, home: Path, data_root: str, db_url: str) -> None:
        self.home = home
        self.data_root = data_root
        self.db_url = db_url
        self.config_dir = home / "config"
        shutil.copytree(REPO / "config", self.config_dir)
        settings = json.loads((self.config_dir / "global.json").read_text())
        settings["scheduler"] = {"poll_seconds": 0.5, "claim_lease_seconds": LEASE_SECONDS}
        (self.config_dir / "global.json").write_text(json.dumps(settings, indent=2))
        self.workers: dict[str, Running] = {}
        self.fed_at: dict[str, float] = {}

    def lakehouse(self, name: str) -> Lakehouse:
        """The CLI as run on host ``name`` (a local state folder of its own)."""
        host = self.home / "hosts" / name
        return Lakehouse(
            host,
            self.data_root,
            self.db_url,
            extra_env={
                "LAKEHOUSE_STATE_DIR": str(host / "state"),
                "LAKEHOUSE_CONFIG_DIR": str(self.config_dir),
            },
        )

    def settings(self) -> Settings:
        return Settings(
            data_root=self.data_root,
            database_url=self.db_url,
            state_dir=self.home / "hosts" / "checker" / "state",
            config_dir=self.config_dir,
            dbt_project_dir=REPO / "dbt_project",
        )

    def inbox(self, company: str) -> Path:
        return self.home / "inbox" / company

    def feed(self, company: str, day: Path, leave_out: str | None = None) -> None:
        """Drop one day folder into the company's inbox whole (copied aside, then renamed in),
        without the file ``leave_out`` if given (it comes later: :meth:`feed_file`)."""
        inbox = self.inbox(company)
        inbox.mkdir(parents=True, exist_ok=True)
        aside = self.home / "inbox" / f".{company}-{day.name}.partial"
        shutil.copytree(day, aside, ignore=lambda _d, names: [n for n in names if n == leave_out])
        aside.rename(inbox / day.name)
        self.fed_at[company] = time.time()

    def feed_file(self, company: str, day: Path, name: str) -> None:
        """Drop one late file of ``day`` into that day's folder of the inbox (copied aside, renamed in)."""
        aside = self.home / "inbox" / f".{company}-{day.name}-{name}.partial"
        shutil.copyfile(day / name, aside)
        aside.rename(self.inbox(company) / day.name / name)
        self.fed_at[company] = time.time()

    def start_worker(self, name: str) -> Running:
        worker = self.lakehouse(name).start("scheduler", "run", "--worker-id", name)
        self.workers[name] = worker
        return worker

    def stop_all(self) -> dict[str, str]:
        """SIGTERM every live worker; how each one that did not exit 0 ended (none, if all went well)."""
        for worker in self.workers.values():
            if worker.running():
                worker.proc.send_signal(signal.SIGTERM)
        problems = {}
        for name, worker in self.workers.items():
            result = worker.wait(timeout=300)
            if not worker.killed and result.returncode != 0 or "Traceback" in result.stderr:
                problems[name] = result.describe()
        return problems


@pytest.fixture
def fleet(s3_env: dict[str, str], pg_migrated_url: str, tmp_path: Path) -> Iterator[Fleet]:
    from tests.conftest import _truncate_all

    _truncate_all(pg_migrated_url)
    fleet = Fleet(tmp_path, f"s3://{s3_env['LAKEHOUSE_TEST_BUCKET']}/lake", pg_migrated_url)
    try:
        yield fleet
    finally:
        for worker in fleet.workers.values():
            worker.kill()


def _generate(fleet: Fleet, company: str, days: int, seed: int) -> list[Path]:
    out = fleet.home / "extracts" / company
    return Extract.generate(fleet.lakehouse("admin"), out, company, days, "0.2", seed).folders()


def _add_tasks(fleet: Fleet) -> None:
    admin = fleet.lakehouse("admin")
    every = f"{EVERY}s"
    for company in COMPANIES:
        inbox = str(fleet.inbox(company))
        admin.ok(
            "scheduler",
            "add",
            f"{company}-ingest",
            "--type",
            "ingest",
            "-c",
            company,
            "--every",
            every,
            "--arg",
            f"drop_folder={inbox}",
        )
        for build in ("build", "build-b"):
            admin.ok(
                "scheduler",
                "add",
                f"{company}-{build}",
                "--type",
                "build",
                "-c",
                company,
                "--every",
                every,
                "--arg",
                "wait_seconds=600",
            )
        admin.ok(
            "scheduler",
            "add",
            f"{company}-gc",
            "--type",
            "gc",
            "-c",
            company,
            "--every",
            f"{2 * EVERY}s",
            "--arg",
            "keep=2",
        )


# --- waiting on the control plane --------------------------------------------------------------------


def _wait_for(what: str, predicate: Callable[[], bool], timeout: float, workers: dict[str, Running]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        dead = {n: w.result().describe() for n, w in workers.items() if not w.running() and not w.killed}
        assert not dead, f"a worker exited while waiting for {what}: {dead}"
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _runs(fleet: Fleet, company: str) -> list[PipelineRunRecord]:
    with open_store(fleet.settings()) as store:
        return store.dal.list_pipeline_runs(company, None, 10_000)


def _settled(fleet: Fleet, company: str) -> bool:
    """Every fed day ingested (an ingest task run found nothing new after the last feed) and built
    (a build task run that started after the last ingest ended succeeded: its dbt build and the
    extraction that follows it, which a worker stopped between the two leaves to the next build)."""
    with open_store(fleet.settings()) as store:
        runs = store.dal.list_task_runs(f"{company}-ingest")
        builds = [
            r
            for task in store.dal.list_tasks()
            if task.company == company and task.task_type == "build"
            for r in store.dal.list_task_runs(task.task_key)
        ]
    fed = fleet.fed_at.get(company, 0.0)
    quiet = [
        r for r in runs if r.started_at.timestamp() > fed and r.success and "nothing new" in (r.message or "")
    ]
    if not quiet:
        return False
    ingests = [r for r in _runs(fleet, company) if r.pipeline_name == "ingest" and r.status == "success"]
    last_ingest = max(r.finished_at for r in ingests if r.finished_at is not None)
    return any(r.success and r.started_at > last_ingest for r in builds)


def _building_worker(fleet: Fleet) -> str | None:
    """The worker that holds the claim of a build occurrence that has started, if any."""
    with open_store(fleet.settings()) as store:
        for task in store.dal.list_tasks():
            if task.task_type == "build" and task.claimed_by in fleet.workers:
                running = [
                    r
                    for r in store.dal.list_pipeline_runs(task.company, "dbt_build", 5)
                    if r.status == "running"
                ]
                if running:
                    return task.claimed_by
    return None


# --- the checks -------------------------------------------------------------------------------------


def _occurrence_problems(key: str, runs: list[TaskRun], interval: timedelta) -> list[str]:
    """No occurrence succeeded twice; each one after the first follows the end of the previous
    occurrence's successful run by ``interval``; only the last occurrence may lack a success (the
    workers were stopped in it)."""
    problems = []
    by_occurrence: dict[datetime | None, list[TaskRun]] = defaultdict(list)
    for run in runs:
        by_occurrence[run.occurrence_at].append(run)
    occurrences = sorted(o for o in by_occurrence if o is not None)
    if None in by_occurrence:
        problems.append(f"{key}: runs without an occurrence: {[r.run_id for r in by_occurrence[None]]}")
    tries = [(r.occurrence_at, r.attempt) for r in runs]
    if len(tries) != len(set(tries)):
        problems.append(f"{key}: an (occurrence, attempt) ran twice: {sorted(tries)}")
    previous_end: datetime | None = None
    for n, occurrence in enumerate(occurrences):
        succeeded = [r for r in by_occurrence[occurrence] if r.success]
        failed = [r for r in by_occurrence[occurrence] if not r.success]
        if len(succeeded) > 1:
            problems.append(f"{key}: occurrence {occurrence} succeeded {len(succeeded)} times")
        for run in failed:
            if not (run.message or "").startswith("abandoned:"):
                problems.append(f"{key}: occurrence {occurrence} attempt {run.attempt} failed: {run.message}")
        if previous_end is not None and occurrence != previous_end + interval:
            problems.append(
                f"{key}: occurrence {occurrence} is not the end of the previous one ({previous_end}) + {interval}: "
                "an occurrence was lost or run early"
            )
        if not succeeded:
            if n != len(occurrences) - 1:
                problems.append(f"{key}: occurrence {occurrence} never succeeded and others came after it")
            continue
        previous_end = succeeded[0].finished_at
    return problems


def _overlaps(runs: list[PipelineRunRecord]) -> list[str]:
    locked = sorted(
        (r for r in runs if r.pipeline_name in LOCKED_PIPELINES and r.status != "running"),
        key=lambda r: r.started_at,
    )
    problems = []
    for before, after in zip(locked, locked[1:], strict=False):
        assert before.finished_at is not None
        if after.started_at < before.finished_at:
            problems.append(
                f"{before.pipeline_name} {before.run_id} ({before.started_at}..{before.finished_at}) overlaps "
                f"{after.pipeline_name} {after.run_id} (from {after.started_at})"
            )
    return problems


def _source_rows(days: list[Path]) -> dict[str, int]:
    """Rows of each raw dataset in the fed day folders, as DuckDB reads the files."""
    counts: dict[str, int] = defaultdict(int)
    with duckdb.connect() as con:
        for day in days:
            for path in day.iterdir():
                if path.stem not in RAW_SCHEMAS:
                    continue
                reader = "read_json_auto" if path.suffix == ".jsonl" else "read_csv_auto"
                row = con.execute(f"select count(*) from {reader}(?)", [str(path)]).fetchone()
                assert row is not None
                counts[path.stem] += int(row[0])
    return dict(counts)


def _late(day: Path) -> str:
    """The file of a day that arrives late (with the next day): the calls."""
    [calls] = [p.name for p in day.iterdir() if p.stem == "calls"]
    return calls


def test_four_workers_three_companies_one_control_plane_and_one_bucket(fleet: Fleet) -> None:
    initial, fed = _days()
    extracts = {c: _generate(fleet, c, initial + fed, seed=21 + n) for n, c in enumerate(COMPANIES)}
    admin = fleet.lakehouse("admin")
    for company in COMPANIES:  # the first load, by hand; the scheduler takes it from there
        for day in extracts[company][:initial]:
            fleet.feed(company, day)
        admin.ok("ingest", "--company", company, str(fleet.inbox(company)))
    _add_tasks(fleet)
    for n in range(WORKERS):
        fleet.start_worker(f"w{n}")

    # A day a step: its calls arrive late, with the next day (the builds stay as of the day before).
    late: dict[str, Path] = {}
    killed: str | None = None
    for step, index in enumerate(range(initial, initial + fed)):
        time.sleep(EVERY * 1.5)
        for company in COMPANIES:
            day = extracts[company][index]
            if company in late:
                previous = late.pop(company)
                fleet.feed_file(company, previous, _late(previous))
            fleet.feed(company, day, leave_out=_late(day) if index < initial + fed - 1 else None)
            if index < initial + fed - 1:
                late[company] = day
        if step == 0:
            # One host dies in the middle of a build (kill -9 of the whole worker) and another replaces it.
            _wait_for("a worker in a build", lambda: _building_worker(fleet) is not None, 300, fleet.workers)
            killed = _building_worker(fleet)
            assert killed is not None
            assert fleet.workers[killed].kill(), f"worker {killed} had exited already"
            fleet.start_worker(f"w{WORKERS}")

    _wait_for(
        "every fed day to be ingested and built",
        lambda: all(_settled(fleet, c) for c in COMPANIES),
        SETTLE_TIMEOUT,
        fleet.workers,
    )
    problems = fleet.stop_all()
    assert not problems, problems

    with open_store(fleet.settings()) as store:
        dal = store.dal
        tasks = {t.task_key: t for t in dal.list_tasks()}
        task_runs = {key: dal.list_task_runs(key) for key in tasks}
        findings: list[str] = []
        for key, runs in task_runs.items():
            interval = timedelta(seconds=2 * EVERY if key.endswith("-gc") else EVERY)
            findings += _occurrence_problems(key, runs, interval)
        workers = {r.worker_id for runs in task_runs.values() for r in runs}
        assert len(workers) >= 3, f"the work was not shared: {workers}"
        # The occurrence the killed worker held ran again, on another worker.
        assert killed is not None
        dead = [r for runs in task_runs.values() for r in runs if r.worker_id == killed and not r.success]
        assert dead and all("stopped renewing its claim" in (r.message or "") for r in dead), dead
        for run in dead:
            again = [
                r
                for r in task_runs[run.task_key]
                if r.occurrence_at == run.occurrence_at and r.success and r.worker_id != killed
            ]
            assert again, (
                f"the occurrence {run.occurrence_at} of {run.task_key} killed on {killed} never ran again"
            )

        for company in COMPANIES:
            runs = dal.list_pipeline_runs(company, None, 10_000)
            findings += [f"{company}: {p}" for p in _overlaps(runs)]
            findings += [
                f"{company}: run {r.run_id} ({r.pipeline_name}) still running"
                for r in runs
                if r.status == "running"
            ]
            # Bronze holds each fed day's rows once: nothing lost, nothing ingested twice.
            expected = _source_rows(extracts[company])
            for dataset, rows in expected.items():
                got = store.read_dataset(company, "bronze", dataset).num_rows
                if got != rows:
                    findings.append(f"{company}: bronze.{dataset} has {got} rows, the fed files {rows}")
            # Builds (serialised by the lock) never went back in time: nothing here is a backfill.
            builds = sorted(
                (r for r in runs if r.pipeline_name == "dbt_build" and r.status == "success"),
                key=lambda r: r.started_at,
            )
            for before, after in zip(builds, builds[1:], strict=False):
                was, now = (before.input_manifest or {}), (after.input_manifest or {})
                if now.get("backfill") or str(now.get("as_of")) < str(was.get("as_of")):
                    findings.append(
                        f"{company}: build {after.run_id} as of {now.get('as_of')} (sources {now.get('source_reach')}) "
                        f"came after build {before.run_id} as of {was.get('as_of')} (sources {was.get('source_reach')})"
                    )
            # The current silver and gold are as of the last day.
            last_day = date.fromisoformat(max(p.name for p in extracts[company]))
            by_name: dict[str, list[DatasetVersionRecord]] = defaultdict(list)
            for version in dal.list_dataset_versions(company):
                if version.zone != "bronze":
                    by_name[f"{version.zone}.{version.dataset_name}"].append(version)
            behind = {
                n: str(current_of(vs).as_of)
                for n, vs in sorted(by_name.items())
                if current_of(vs).as_of != last_day
            }
            if not by_name or behind:
                builds = [
                    f"{r.task_key} {r.worker_id} {r.started_at:%H:%M:%S}-{r.finished_at:%H:%M:%S} "
                    f"as_of={r.metadata.get('as_of')} versions={r.metadata.get('versions')} {r.message}"
                    for key in (f"{company}-build", f"{company}-build-b")
                    for r in task_runs[key]
                ]
                findings.append(
                    f"{company}: current versions not as of {last_day}: {behind}; builds:\n  "
                    + "\n  ".join(builds)
                )
        # Each notification was delivered once, by one host, whichever worker's build found its event.
        delivered = [
            json.loads(line)["idempotency_key"]
            for path in sorted((fleet.home / "hosts").glob("*/state/_notifications/notifications.jsonl"))
            for line in path.read_text().splitlines()
            if line.strip()
        ]
        twice = sorted(k for k, n in Counter(delivered).items() if n > 1)
        findings += [f"notification {k} delivered {Counter(delivered)[k]} times" for k in twice]
        sent = [n for n in dal.list_notifications(channel="file") if n.status == "sent"]
        if sorted({n.idempotency_key for n in sent if n.idempotency_key}) != sorted(set(delivered)):
            findings.append(
                f"{len(sent)} file notification(s) recorded sent, {len(set(delivered))} delivered"
            )
        assert not findings, "\n".join(findings)

    for company in COMPANIES:
        admin.ok("verify", "--company", company)


# In the long run only (75 s): the short run loses PostgreSQL in test_pg_loss.py.
@pytest.mark.long_only
def test_a_worker_rides_out_a_postgresql_restart(
    throwaway_pg: ThrowawayPostgres, s3_env: dict[str, str], tmp_path: Path
) -> None:
    """The control plane's server is SIGKILLed while a worker builds, and comes back once the worker
    has noticed (a day arrives meanwhile). The worker says what happened and that it tries again, goes on once the server
    is back, ingests and builds the new day; the occurrence it lost runs again; every version verifies."""
    url = throwaway_pg.create_database("lakehouse")
    fleet = Fleet(tmp_path, f"s3://{s3_env['LAKEHOUSE_TEST_BUCKET']}/lake", url)
    admin = fleet.lakehouse("admin")
    try:
        admin.ok("db", "upgrade")
        days = _generate(fleet, "acme", 3, seed=5)
        for day in days[:2]:
            fleet.feed("acme", day)
        admin.ok("ingest", "--company", "acme", str(fleet.inbox("acme")))
        admin.ok(
            "scheduler",
            "add",
            "acme-ingest",
            "--type",
            "ingest",
            "-c",
            "acme",
            "--every",
            f"{EVERY}s",
            "--arg",
            f"drop_folder={fleet.inbox('acme')}",
        )
        admin.ok(
            "scheduler",
            "add",
            "acme-build",
            "--type",
            "build",
            "-c",
            "acme",
            "--every",
            f"{EVERY}s",
            "--arg",
            "wait_seconds=600",
        )
        worker = fleet.start_worker("w0")
        _wait_for("the worker in a build", lambda: _building_worker(fleet) == "w0", 300, fleet.workers)

        throwaway_pg.kill()
        try:
            fleet.feed("acme", days[2])
            _wait_for(
                "the worker to say it tries again",
                lambda: "the worker tries again in" in worker.stderr_so_far(),
                300,
                fleet.workers,
            )
            time.sleep(5)  # a few tries with the server down
            assert worker.running(), worker.wait(1).describe()
        finally:
            throwaway_pg.start()
        _wait_for(
            "the new day to be ingested and built",
            lambda: _settled(fleet, "acme"),
            SETTLE_TIMEOUT,
            fleet.workers,
        )
        problems = fleet.stop_all()
        assert not problems, problems
        stderr = worker.result().stderr
        assert (
            "lost the connection to the control-plane database" in stderr
            or "cannot reach the control-plane database" in stderr
        ), stderr[-2000:]
        assert "the worker tries again in" in stderr and "the control plane is back" in stderr, stderr[-2000:]

        runs = admin.ok("runs", "--company", "acme", "--limit", "1000", "--output", "json").json()
        assert not [r["run_id"] for r in runs if r["status"] == "running"]
        with open_store(fleet.settings()) as store:
            findings = []
            for key in ("acme-ingest", "acme-build"):
                task_runs = store.dal.list_task_runs(key)
                findings += _occurrence_problems(key, task_runs, timedelta(seconds=EVERY))
            builds = store.dal.list_task_runs("acme-build")
            lost = [r for r in builds if not r.success]
            assert lost, "no build occurrence was lost with the server"
            assert all(any(r.occurrence_at == x.occurrence_at and r.success for r in builds) for x in lost)
            assert not findings, "\n".join(findings)
            failed_runs = {
                r.run_id for r in store.dal.list_pipeline_runs("acme", None, 1000) if r.status == "failed"
            }
        # What the build that lost the server had written stays until gc (it could not tell then
        # whether it had committed); gc removes those files, and only those.
        removed = admin.ok("gc", "--company", "acme", "--output", "json").json()["removed_files"]
        assert all(any(run_id in path for run_id in failed_runs) for path in removed), (removed, failed_runs)
        admin.ok("verify", "--company", "acme")
    finally:
        for running in fleet.workers.values():
            running.kill()
