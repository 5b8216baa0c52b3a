"""The DAL façade: what services and the CLI call, never raw file or SQL operations.

:class:`DataAccessLayer` opens one control-plane transaction per call and delegates to the
per-entity repositories in :mod:`lakehouse.db.repos`. Data-plane operations (publishing dataset
versions, reading them back) build on it in :mod:`lakehouse.dataplane.store`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from lakehouse.db import company_lock, run_health
from lakehouse.db.engine import (
    PoolLimits,
    control_plane_error,
    make_engine,
    make_session_factory,
    redact_url,
    transaction,
)
from lakehouse.db.liveness import holder_alive
from lakehouse.db.locks import NamedLock, named_lock
from lakehouse.db.records import (
    DatasetFileRecord,
    DatasetVersionRecord,
    DatasetVersionSpec,
    DetectedEvent,
    EventRecord,
    GateMode,
    NotificationRecord,
    NotificationSpec,
    NotificationStatus,
    PipelineRunRecord,
    PullRequest,
    ReviewChecks,
    ReviewGateRecord,
    RunHolder,
    RunStatus,
    Task,
    TaskClaim,
    TaskOutcome,
    TaskRun,
    TaskSpec,
    TaskUpdate,
)
from lakehouse.db.repos.event_repo import SqlEventRepo
from lakehouse.db.repos.file_index_repo import SqlFileIndexRepo
from lakehouse.db.repos.idempotency_repo import SqlIdempotencyRepo
from lakehouse.db.repos.notification_repo import SqlNotificationRepo
from lakehouse.db.repos.review_repo import SqlReviewRepo
from lakehouse.db.repos.run_repo import SqlRunRepo
from lakehouse.db.repos.scheduler_repo import SqlSchedulerRepo
from lakehouse.db.schema_head import require_head
from lakehouse.db.types import utcnow
from lakehouse.errors import AlreadyExistsError, ConnectionPoolExhaustedError
from lakehouse.ids import new_run_id
from lakehouse.settings import Settings, get_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")


class DataAccessLayer:
    """Façade over the control plane (scheduler, runs, dataset versions, events, review, notify, idempotency).

    The engine and its sessions are private to :mod:`lakehouse.db`: a caller that needs several calls to
    commit together wraps them in :meth:`transaction`; locks and run health are methods here too.

        Args:
            engine: the control-plane engine; see :meth:`from_url` and :meth:`from_settings`.
    """

    def __init__(self, engine: Engine, limits: PoolLimits | None = None) -> None:
        self._engine = engine
        self._limits = limits or PoolLimits()
        self._sessions: sessionmaker[Session] = make_session_factory(engine)
        self._local = threading.local()
        self._reached = False  # a session committed: a later connection failure is a lost database

    @classmethod
    def from_url(
        cls, url: str, check_schema: bool = True, limits: PoolLimits | None = None
    ) -> DataAccessLayer:
        """Connect to ``url``; with ``check_schema``, refuse a database not migrated to head.

        ``limits`` bound the connections and statements on PostgreSQL (default :class:`PoolLimits`).
        """
        limits = limits or PoolLimits()
        dal = cls(make_engine(url, limits), limits)
        if check_schema:
            try:
                require_head(dal._engine)
            except BaseException:
                dal.close()
                raise
        return dal

    @classmethod
    def from_settings(cls, settings: Settings | None = None, check_schema: bool = True) -> DataAccessLayer:
        cfg = settings or get_settings()
        limits = PoolLimits(
            size=cfg.db_pool_size,
            overflow=cfg.db_max_overflow,
            wait_seconds=cfg.db_pool_timeout,
            statement_timeout_seconds=cfg.db_statement_timeout,
        )
        return cls.from_url(cfg.database_url, check_schema=check_schema, limits=limits)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on error.

        Raises:
            DatabaseUnavailableError: the database cannot be reached, or the connection was lost
                (``lost`` once this DAL has reached it before).
            DiskFullError: the database has no space left (SQLite's file system, or the server's).
        """
        active = getattr(self._local, "session", None)
        if active is not None:  # inside transaction(): share its session, commit with it
            yield active
            return
        try:
            with transaction(self._sessions) as session:
                yield session
        except DBAPIError as exc:
            mapped = control_plane_error(exc, self._engine, lost=self._reached)
            if mapped is not None:
                raise mapped from exc
            raise
        except PoolTimeoutError as exc:
            raise ConnectionPoolExhaustedError(
                self.url, self._limits.connections, self._limits.wait_seconds
            ) from exc
        self._reached = True

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A unit of work: every DAL call made in the block (by this thread) shares one transaction,
        committed at the end of the outermost block, rolled back if it raises. Re-entrant."""
        if getattr(self._local, "session", None) is not None:
            yield
            return
        with self._session() as s:
            self._local.session = s
            try:
                yield
            finally:
                self._local.session = None

    @property
    def url(self) -> str:
        """The control-plane URL, password redacted (for messages)."""
        return redact_url(str(self._engine.url))

    @property
    def sqlite_file(self) -> str | None:
        """The database file of an SQLite control plane (None on a server)."""
        return self._engine.url.database if self._engine.dialect.name == "sqlite" else None

    # --- locks and run health ----------------------------------------------------------------------

    def named_lock(self, name: str) -> NamedLock:
        """A lock that dies with its holder (see :func:`lakehouse.db.locks.named_lock`), not yet taken."""
        return named_lock(self._engine, name)

    def company_lock(
        self,
        name: str,
        holder_run_id: str,
        wait_seconds: float = 0.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> AbstractContextManager[None]:
        """Hold lock ``name`` for run ``holder_run_id`` while the block runs
        (:func:`lakehouse.db.company_lock.company_lock`).

        Raises:
            LockBusyError: still held after ``wait_seconds``; names the holder.
        """
        return company_lock.company_lock(self, name, holder_run_id, wait_seconds, on_wait)

    def describe_lock_holder(self, name: str) -> str | None:
        """Who holds lock ``name``: "run X on host H pid P since T" (None: nobody recorded)."""
        return company_lock.describe_holder(self, name)

    def run_heartbeat(self, run_id: str, every: float | None = None) -> AbstractContextManager[None]:
        """Renew the heartbeat of running run ``run_id`` from a thread while the block runs."""
        return run_health.run_heartbeat(self, run_id, every)

    def run_alive(self, run: PipelineRunRecord) -> bool:
        """Whether the process holding running run ``run`` is alive (by pid on this host, else heartbeat)."""
        return holder_alive(run)

    def dead_runs(self, company: str | None = None) -> list[PipelineRunRecord]:
        """Runs still marked running whose holder process is gone, oldest first."""
        return run_health.dead_runs(self, company)

    def mark_dead(self, run: PipelineRunRecord, command: str) -> bool:
        """Mark ``run`` failed because its process died; False if it finished meanwhile."""
        return run_health.mark_dead(self, run, command)

    def reap_dead_runs(self, company: str | None = None, command: str = "gc") -> list[str]:
        """Mark every run whose process died failed (of one company, if given); the run ids marked.

        Raises:
            DatabaseUnavailableError: the control plane is down.
        """
        return run_health.reap_dead_runs(self, company, command)

    # --- scheduler ---------------------------------------------------------------------------------

    def create_task(self, task: TaskSpec, next_run_at: datetime | None = None) -> Task:
        """Create a scheduler task, due first at ``next_run_at`` (None: the worker schedules it).

        Raises:
            AlreadyExistsError: a task with the same ``task_key`` exists.
        """
        with self._session() as s:
            return SqlSchedulerRepo(s).create_task(task, next_run_at)

    def update_task(self, task: TaskUpdate, next_run_at: datetime | None = None) -> Task:
        """Apply the non-None fields of ``task`` to the task with its ``task_key``; a ``next_run_at``
        reschedules it (and starts its try count again).

        Raises:
            NotFoundError: no such task.
        """
        with self._session() as s:
            return SqlSchedulerRepo(s).update_task(task, next_run_at)

    def get_task(self, task_key: str) -> Task:
        """Raises: NotFoundError: no such task."""
        with self._session() as s:
            return SqlSchedulerRepo(s).get_task(task_key)

    def list_active_tasks(self, company: str | None = None) -> list[Task]:
        """Tasks with status ``active`` (of one company, if given), by task_key."""
        with self._session() as s:
            return SqlSchedulerRepo(s).list_active_tasks(company)

    def list_tasks(self, company: str | None = None, statuses: Sequence[str] | None = None) -> list[Task]:
        """Tasks of any status (or of ``statuses``), of one company if given, by task_key."""
        with self._session() as s:
            return SqlSchedulerRepo(s).list_tasks(company, statuses)

    def record_task_run(self, run: TaskRun) -> None:
        """Record one execution of a task (found by ``run.task_key``).

        Raises:
            NotFoundError: no such task. AlreadyExistsError: the run_id was recorded before.
        """
        with self._session() as s:
            SqlSchedulerRepo(s).record_task_run(run)

    def list_task_runs(self, task_key: str, limit: int | None = None) -> list[TaskRun]:
        """A task's runs, oldest first (only the newest ``limit``, if given)."""
        with self._session() as s:
            return SqlSchedulerRepo(s).list_task_runs(task_key, limit)

    def get_task_run(self, run_id: str) -> TaskRun:
        """Raises: NotFoundError: no scheduler run with this run_id."""
        with self._session() as s:
            return SqlSchedulerRepo(s).get_task_run(run_id)

    def unscheduled_tasks(self) -> list[Task]:
        """Active tasks that have no next occurrence yet (:meth:`schedule_task` gives them one)."""
        with self._session() as s:
            return SqlSchedulerRepo(s).unscheduled_tasks()

    def schedule_task(self, task_key: str, next_run_at: datetime) -> bool:
        """Give an unscheduled active task its first occurrence; False if another worker did already."""
        with self._session() as s:
            return SqlSchedulerRepo(s).schedule(task_key, next_run_at)

    def claim_due_tasks(
        self, worker_id: str, lease: timedelta, limit: int = 1, only: Sequence[str] | None = None
    ) -> list[TaskClaim]:
        """Claim up to ``limit`` due tasks for ``worker_id`` until now + ``lease``, each with a run
        recorded as started (only tasks whose key is in ``only``, if given); see
        :meth:`SqlSchedulerRepo.claim_due` for the locking.

        On PostgreSQL concurrent workers claim different tasks (``FOR UPDATE SKIP LOCKED``); an SQLite
        control plane serialises writers, and the scheduler runs one worker on it.
        """
        with self._session() as s:
            return SqlSchedulerRepo(s).claim_due(worker_id, utcnow(), lease, limit, new_run_id, only)

    def renew_task_claim(self, claim: TaskClaim, lease: timedelta) -> bool:
        """Extend ``claim`` to now + ``lease``; False if the worker lost it (another took over)."""
        with self._session() as s:
            return SqlSchedulerRepo(s).renew_claim(
                claim.task.id, claim.worker_id, claim.attempt, utcnow() + lease
            )

    def finish_task_claim(self, claim: TaskClaim, outcome: TaskOutcome) -> bool:
        """Record how a claimed occurrence ended, move the task to ``outcome.next_run_at`` and
        release the claim, in one transaction; False if the claim had been lost (then only the run
        is recorded)."""
        with self._session() as s:
            return SqlSchedulerRepo(s).finish_claim(claim, outcome)

    # --- pipeline runs and dataset versions --------------------------------------------------------

    def start_pipeline_run(
        self,
        company: str,
        pipeline_name: str,
        stage: str | None = None,
        input_manifest: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        """Record a new running pipeline run, held by this process (host and pid are recorded).

        Returns:
            Its run_id: sortable by start time as text, unique.
        """
        rid = run_id or new_run_id()
        with self._session() as s:
            SqlRunRepo(s).start_pipeline_run(
                rid, company, pipeline_name, stage, input_manifest, this_process()
            )
        logger.info("started %s run %s for %s", pipeline_name, rid, company)
        return rid

    def finish_pipeline_run(
        self,
        run_id: str,
        status: RunStatus,
        manifests: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        input_manifest: dict[str, Any] | None = None,
    ) -> PipelineRunRecord:
        """Finish a running run with ``status`` (success|failed), its output manifest and error.

        Raises:
            NotFoundError: unknown run. InvalidStateError: the run already finished.
        """
        with self._session() as s:
            return SqlRunRepo(s).finish_pipeline_run(run_id, status, manifests, error, input_manifest)

    def fail_pipeline_run(self, run_id: str, exc: BaseException, **details: Any) -> None:
        """Mark a running run failed with the error that stopped it; never raises.

        The caller is about to re-raise ``exc``: a second failure here is logged, not raised, so it
        cannot hide the first. ``details`` are added to (or override) ``type`` and ``message``.
        """
        error = {"type": type(exc).__name__, "message": str(exc), **details}
        try:
            self.finish_pipeline_run(run_id, "failed", error=error)
        except Exception:
            logger.exception("could not mark run %s failed", run_id)

    def heartbeat_pipeline_run(self, run_id: str) -> bool:
        """Record that a running run's process is alive; False if the run is no longer running."""
        with self._session() as s:
            return SqlRunRepo(s).heartbeat(run_id, utcnow())

    def running_pipeline_runs(self, company: str | None = None) -> list[PipelineRunRecord]:
        """Every run still marked running (of one company, if given), oldest first."""
        with self._session() as s:
            return SqlRunRepo(s).running_runs(company)

    def get_pipeline_run(self, run_id: str) -> PipelineRunRecord:
        with self._session() as s:
            return SqlRunRepo(s).get_run(run_id)

    def list_pipeline_runs(
        self, company: str | None = None, pipeline_name: str | None = None, limit: int = 50
    ) -> list[PipelineRunRecord]:
        """The newest runs first."""
        with self._session() as s:
            return SqlRunRepo(s).list_runs(company, pipeline_name, limit)

    def register_dataset_version(self, spec: DatasetVersionSpec) -> DatasetVersionRecord:
        """Register a published dataset version.

        Raises:
            AlreadyExistsError: the company already has that dataset version tag.
        """
        with self._session() as s:
            return SqlRunRepo(s).register_dataset_version(spec)

    def list_dataset_versions(
        self,
        company: str,
        dataset_name: str | None = None,
        zone: str | None = None,
        include_expired: bool = False,
        produced_by_run_id: str | None = None,
        with_schema: bool = True,
    ) -> list[DatasetVersionRecord]:
        """Committed versions (and expired ones if asked), oldest first per dataset; only those a
        run committed with ``produced_by_run_id``; ``with_schema=False`` leaves out their schemas
        (``schema`` None), which makes a long listing several times quicker."""
        with self._session() as s:
            return SqlRunRepo(s).list_dataset_versions(
                company, dataset_name, zone, include_expired, produced_by_run_id, with_schema
            )

    def commit_dataset_versions(
        self,
        specs: Sequence[DatasetVersionSpec],
        claims: Sequence[tuple[str, str]] = (),
        on_taken: Callable[[Sequence[tuple[str, str, str]]], Sequence[DatasetVersionSpec]] | None = None,
    ) -> list[DatasetVersionRecord]:
        """Publish several dataset versions in ONE transaction: all become visible, or none.

        This transaction is the commit point of the data plane: files are written first under
        unique immutable names, and readers only see what a committed row lists.

        Args:
            specs: the versions to register.
            claims: ``(scope, key)`` idempotency keys to claim in the same transaction (e.g. the
                sha256 of an ingested source file).
            on_taken: what to do when some claims are held by another run already. Without it
                nothing is published (AlreadyExistsError). With it, it is called in the transaction
                with every taken claim as ``(scope, key, holder run id)`` and returns the versions to
                register instead (e.g. without the files those claims stood for; it may return none),
                and the claims this run did get commit with them.

        Claims, then schemas, are taken in sorted order, so two commits that share some never wait
        for each other in a cycle. Every version gets the same ``commit_seq``, one more than any
        commit before it, and each version's schema is registered (or checked against the one
        registered) in this transaction.

        Raises:
            AlreadyExistsError: a claim (without ``on_taken``) or a version tag exists already.
            SchemaConflictError: a schema version is registered with other columns.
        """
        now = utcnow()
        run_id = specs[0].produced_by_run_id if specs else None
        with self._session() as s:
            keys = SqlIdempotencyRepo(s)
            taken: list[tuple[str, str, str]] = []
            for scope, key in sorted(set(claims)):
                if not keys.claim(_scoped(scope, key), scope, run_id, now, None):
                    taken.append((scope, key, keys.holder(_scoped(scope, key), now) or ""))
            if taken:
                if on_taken is None:
                    raise AlreadyExistsError(taken[0][0], taken[0][1])
                specs = list(on_taken(taken))
            repo = SqlRunRepo(s)
            rows = [repo.register_dataset_version(spec) for spec in specs]
            index = SqlFileIndexRepo(s)
            for row, spec in zip(rows, specs, strict=True):
                index.add_files(row.id, spec.company, spec.zone, spec.dataset_name, spec.files)
            schemas = sorted(
                (spec for spec in specs if spec.schema is not None),
                key=lambda spec: (spec.company, spec.zone, spec.dataset_name, spec.schema_version),
            )
            for spec in schemas:
                assert spec.schema is not None
                repo.register_schema(
                    spec.company,
                    spec.zone,
                    spec.dataset_name,
                    spec.schema_version,
                    spec.schema,
                    spec.produced_by_run_id,
                )
            if not rows:
                return []
            # Numbered after the rows are written: the transaction holds the write lock by now.
            seq = repo.next_commit_seq()
            repo.set_commit_seq([r.id for r in rows], seq)
            return [replace(r, commit_seq=seq) for r in rows]

    def dataset_files_of(
        self, versions: Iterable[DatasetVersionRecord]
    ) -> dict[Any, list[DatasetFileRecord]]:
        """Version id -> its files from the file index, in manifest order, in one query; a version
        with no indexed files (committed before the index existed) is absent."""
        with self._session() as s:
            return SqlFileIndexRepo(s).files_of(v.id for v in versions)

    def index_dataset_files(self, version: DatasetVersionRecord, files: Sequence[DatasetFileRecord]) -> bool:
        """Index the files of a version committed before the file index existed (from its manifest).

        Returns:
            False if another process indexed them first (nothing is written twice).
        """
        try:
            with self._session() as s:
                index = SqlFileIndexRepo(s)
                if index.files_of([version.id]):
                    return False
                index.add_files(version.id, version.company, version.zone, version.dataset_name, files)
        except IntegrityError:
            return False
        return True

    def registered_schema(
        self, company: str, zone: str, dataset: str, schema_version: str
    ) -> dict[str, Any] | None:
        """The column schema registered as ``schema_version`` of a dataset, if any."""
        with self._session() as s:
            return SqlRunRepo(s).get_schema(company, zone, dataset, schema_version)

    def expire_dataset_versions(self, ids: Sequence[Any]) -> int:
        """Mark versions expired (gc removes their files afterwards)."""
        with self._session() as s:
            return SqlRunRepo(s).expire_versions(list(ids))

    def renew_idempotency_key(self, scope: str, key: str, run_id: str, ttl: timedelta) -> bool:
        """Extend ``run_id``'s claim of ``key`` to now + ``ttl`` (a lease heartbeat); False if lost."""
        with self._session() as s:
            return SqlIdempotencyRepo(s).renew(_scoped(scope, key), run_id, utcnow() + ttl)

    def idempotency_claim_of(self, scope: str, key: str) -> str | None:
        """The run_id that claimed ``key`` in ``scope`` (unexpired; "" if none recorded), or None."""
        with self._session() as s:
            return SqlIdempotencyRepo(s).holder(_scoped(scope, key), utcnow())

    # --- events ------------------------------------------------------------------------------------

    def upsert_events_index(self, events: Sequence[DetectedEvent], run_id: str | None = None) -> int:
        """Upsert detected events, set-based (one ``INSERT ... ON CONFLICT`` per batch).

        New events are inserted active with first_seen_at = last_seen_at = now; known ones keep
        first_seen_at, move last_seen_at, take the new details, and a resolved one becomes active.
        ``run_id`` (the detecting run) is recorded as the events' ``source_file`` when they name none.

        Returns:
            How many distinct events were written.
        """
        if run_id is not None:
            events = [e if e.source_file else _with_source(e, f"run:{run_id}") for e in events]
        with self._session() as s:
            return SqlEventRepo(s).upsert_events_index(events)

    def resolve_missing_events(self, current_event_ids: Iterable[str], event_type: str, company: str) -> int:
        """Resolve the active events of ``event_type`` and ``company`` not in ``current_event_ids``.

        Returns:
            How many were resolved (one UPDATE over ids staged in a temporary table).
        """
        with self._session() as s:
            return SqlEventRepo(s).resolve_missing_events(current_event_ids, event_type, company)

    def list_events(
        self, company: str, status: str | None = None, event_type: str | None = None, limit: int | None = None
    ) -> list[EventRecord]:
        with self._session() as s:
            return SqlEventRepo(s).list_events(company, status, event_type, limit)

    def count_events_by_type(self, company: str, status: str = "active") -> dict[str, int]:
        with self._session() as s:
            return SqlEventRepo(s).count_by_type(company, status)

    def count_pipeline_runs(self, company: str | None = None) -> dict[tuple[str, str], int]:
        """``(company, pipeline_name)`` -> number of runs; its companies are those holding any data."""
        with self._session() as s:
            return SqlRunRepo(s).count_runs(company)

    # --- review gates and notifications ------------------------------------------------------------

    def upsert_review_gate(
        self,
        task_id: str,
        pr: PullRequest,
        checks: ReviewChecks,
        mode: GateMode = "strict",
        head_commit: str | None = None,
    ) -> ReviewGateRecord:
        """Create or update a task's review gate; ``ready`` is computed from ``checks`` and ``mode``.

        A gate already in exactly this state is not written (its ``updated_at`` is kept).

        Args:
            head_commit: the pull request's head commit the checks were made on.
        """
        with self._session() as s:
            return SqlReviewRepo(s).upsert_review_gate(task_id, pr, checks, mode, head_commit)

    def get_review_gate(self, task_id: str) -> ReviewGateRecord:
        with self._session() as s:
            return SqlReviewRepo(s).get(task_id)

    def list_review_gates(self, ready: bool | None = None) -> list[ReviewGateRecord]:
        """Every review gate, by task id; with ``ready``, only the gates that are (or are not) ready."""
        with self._session() as s:
            return SqlReviewRepo(s).list_gates(ready)

    def mark_ready(self, task_id: str) -> ReviewGateRecord:
        """Mark a task's gate ready, after re-checking its checks.

        Raises:
            NotFoundError: no gate. InvalidStateError: a required check has not passed.
        """
        with self._session() as s:
            return SqlReviewRepo(s).mark_ready(task_id)

    def record_notification(self, spec: NotificationSpec) -> NotificationRecord:
        """Record the receipt of a notification that was sent (or failed)."""
        with self._session() as s:
            return SqlNotificationRepo(s).record_notification(spec)

    def list_notifications(
        self,
        task_id: str | None = None,
        status: str | None = None,
        channel: str | None = None,
        limit: int | None = None,
    ) -> list[NotificationRecord]:
        """Receipts, oldest (last attempted) first; each filter given narrows the list."""
        with self._session() as s:
            return SqlNotificationRepo(s).list_notifications(task_id, status, channel, limit)

    def get_notification(self, notification_id: uuid.UUID) -> NotificationRecord:
        """Raises: NotFoundError: no such receipt."""
        with self._session() as s:
            return SqlNotificationRepo(s).get(notification_id)

    def find_notification(self, channel: str, idempotency_key: str) -> NotificationRecord | None:
        """The receipt recorded for ``idempotency_key`` on ``channel`` (a sent one first), or None."""
        with self._session() as s:
            return SqlNotificationRepo(s).find_by_key(channel, idempotency_key)

    def notified_tasks(self, task_id_prefix: str, channels: Sequence[str]) -> set[tuple[str, str]]:
        """``(task_id, channel)`` of the receipts (sent or failed) on ``channels`` of tasks whose id
        starts with ``task_id_prefix`` (e.g. ``"event:"``)."""
        with self._session() as s:
            return SqlNotificationRepo(s).notified_tasks(task_id_prefix, channels)

    def update_notification(
        self,
        notification_id: uuid.UUID,
        status: NotificationStatus,
        attempts: int,
        error: str | None = None,
        provider_message_id: str | None = None,
    ) -> NotificationRecord:
        """Record another attempt of a receipt (a retry): outcome, total requests, error; time = now.

        Raises:
            NotFoundError: no such receipt.
        """
        with self._session() as s:
            return SqlNotificationRepo(s).update_attempt(
                notification_id, status, attempts, error, provider_message_id
            )

    # --- idempotency -------------------------------------------------------------------------------

    def claim_idempotency_key(
        self, scope: str, key: str, ttl: timedelta | None = None, run_id: str | None = None
    ) -> bool:
        """Claim ``key`` in ``scope`` atomically; True only for the one caller that got it.

        Args:
            ttl: after this long the claim expires and the key may be claimed again; None = never.
        """
        now = utcnow()
        expires = now + ttl if ttl is not None else None
        with self._session() as s:
            return SqlIdempotencyRepo(s).claim(_scoped(scope, key), scope, run_id, now, expires)

    def release_idempotency_key(self, scope: str, key: str, run_id: str | None = None) -> None:
        with self._session() as s:
            SqlIdempotencyRepo(s).release(_scoped(scope, key), run_id)

    def run_once(
        self,
        scope: str,
        key: str,
        side_effect: Callable[[], T],
        ttl: timedelta | None = None,
        run_id: str | None = None,
    ) -> tuple[bool, T | None]:
        """Run ``side_effect`` only if this caller claims ``key``; release the claim if it raises.

        Returns:
            ``(True, result)`` for the caller that ran it, ``(False, None)`` for every other.
        """
        # The claim carries a token of this call, so a failure releases only its own claim, never
        # one that another caller took over after it expired.
        holder = run_id or f"call-{uuid.uuid4().hex}"
        if not self.claim_idempotency_key(scope, key, ttl=ttl, run_id=holder):
            logger.info("skipped %s/%s: already claimed", scope, key)
            return False, None
        try:
            return True, side_effect()
        except BaseException:
            self.release_idempotency_key(scope, key, holder)
            raise


def this_process() -> RunHolder:
    """The holder record of the calling process."""
    return RunHolder(socket.gethostname(), os.getpid())


def _scoped(scope: str, key: str) -> str:
    return f"{scope}:{key}"


def _with_source(event: DetectedEvent, source: str) -> DetectedEvent:
    return replace(event, source_file=source)


__all__ = ["DataAccessLayer"]
