"""Pipeline runs and dataset versions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lakehouse.db.models import DatasetSchema, DatasetVersion, PipelineRun, table_of
from lakehouse.db.records import (
    DatasetVersionRecord,
    DatasetVersionSpec,
    PipelineRunRecord,
    RunHolder,
    RunStatus,
)
from lakehouse.db.repos._upsert import dialect_insert
from lakehouse.db.repos._upsert import rowcount as _rowcount
from lakehouse.db.types import utcnow
from lakehouse.errors import AlreadyExistsError, InvalidStateError, NotFoundError, SchemaConflictError


def _to_run(row: PipelineRun) -> PipelineRunRecord:
    return PipelineRunRecord(
        run_id=row.run_id,
        company=row.company,
        pipeline_name=row.pipeline_name,
        stage=row.stage,
        status=row.status,
        input_manifest=row.input_manifest_json,
        output_manifest=row.output_manifest_json,
        error=row.error_json,
        started_at=row.started_at,
        finished_at=row.finished_at,
        holder_host=row.holder_host,
        holder_pid=row.holder_pid,
        heartbeat_at=row.heartbeat_at,
    )


#: The fields of a version record but its schema (``list_dataset_versions(with_schema=False)``).
_SUMMARY_FIELDS = (
    "id",
    "company",
    "dataset_name",
    "version_tag",
    "schema_version",
    "manifest_path",
    "row_count",
    "checksum",
    "produced_by_run_id",
    "created_at",
    "zone",
    "status",
    "as_of",
    "commit_seq",
)


def _to_version(row: DatasetVersion) -> DatasetVersionRecord:
    return DatasetVersionRecord(
        id=row.id,
        company=row.company,
        dataset_name=row.dataset_name,
        version_tag=row.version_tag,
        schema_version=row.schema_version,
        manifest_path=row.manifest_path,
        row_count=row.row_count,
        checksum=row.checksum,
        produced_by_run_id=row.produced_by_run_id,
        created_at=row.created_at,
        zone=row.zone,
        schema=row.schema_json,
        status=row.status,
        as_of=row.as_of,
        commit_seq=row.commit_seq,
    )


def schema_id(company: str, zone: str, dataset: str, schema_version: str) -> uuid.UUID:
    """The id of a registered schema: derived from its key, so migrations can derive it again."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"lakehouse-schema:{company}/{zone}/{dataset}/{schema_version}")


class SqlRunRepo:
    """Queries over ``pipeline_runs`` and ``dataset_versions``."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def start_pipeline_run(
        self,
        run_id: str,
        company: str,
        pipeline_name: str,
        stage: str | None,
        input_manifest: dict[str, Any] | None,
        holder: RunHolder | None = None,
    ) -> PipelineRunRecord:
        now = utcnow()
        row = PipelineRun(
            run_id=run_id,
            company=company,
            pipeline_name=pipeline_name,
            stage=stage,
            status="running",
            input_manifest_json=input_manifest,
            started_at=now,
            holder_host=holder.host if holder else None,
            holder_pid=holder.pid if holder else None,
            heartbeat_at=now if holder else None,
        )
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError as exc:
            raise AlreadyExistsError("pipeline run", run_id) from exc
        return _to_run(row)

    def finish_pipeline_run(
        self,
        run_id: str,
        status: RunStatus,
        output_manifest: dict[str, Any] | None,
        error: dict[str, Any] | None,
        input_manifest: dict[str, Any] | None = None,
    ) -> PipelineRunRecord:
        if status == "running":
            raise InvalidStateError("pipeline run", run_id, "running", "finish a run with status 'running'")
        values: dict[str, Any] = {
            "status": status,
            "output_manifest_json": output_manifest,
            "error_json": error,
            "finished_at": utcnow(),
        }
        if input_manifest is not None:
            values["input_manifest_json"] = input_manifest
        # Conditional update: only a running run can finish, even with two finishers racing.
        result = self._session.execute(
            update(PipelineRun)
            .where(PipelineRun.run_id == run_id, PipelineRun.status == "running")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            current = self.get_run(run_id)  # raises NotFoundError for an unknown run
            raise InvalidStateError("pipeline run", run_id, f"already {current.status}", "finish it again")
        return self.get_run(run_id)

    def heartbeat(self, run_id: str, now: datetime) -> bool:
        """Record that a running run's holder is alive; False if the run is no longer running."""
        result = self._session.execute(
            update(PipelineRun)
            .where(PipelineRun.run_id == run_id, PipelineRun.status == "running")
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    def running_runs(self, company: str | None = None) -> list[PipelineRunRecord]:
        """Every run still marked running (of one company, if given)."""
        query = select(PipelineRun).where(PipelineRun.status == "running")
        if company is not None:
            query = query.where(PipelineRun.company == company)
        return [_to_run(r) for r in self._session.scalars(query.order_by(PipelineRun.run_id))]

    def get_run(self, run_id: str) -> PipelineRunRecord:
        self._session.expire_all()
        row = self._session.scalars(select(PipelineRun).where(PipelineRun.run_id == run_id)).first()
        if row is None:
            raise NotFoundError("pipeline run", run_id)
        return _to_run(row)

    def list_runs(
        self, company: str | None = None, pipeline_name: str | None = None, limit: int = 50
    ) -> list[PipelineRunRecord]:
        query = select(PipelineRun)
        if company is not None:
            query = query.where(PipelineRun.company == company)
        if pipeline_name is not None:
            query = query.where(PipelineRun.pipeline_name == pipeline_name)
        query = query.order_by(PipelineRun.run_id.desc()).limit(limit)
        return [_to_run(r) for r in self._session.scalars(query)]

    def count_runs(self, company: str | None = None) -> dict[tuple[str, str], int]:
        """``(company, pipeline_name)`` -> number of runs (of one company, if given), sorted."""
        query = select(PipelineRun.company, PipelineRun.pipeline_name, func.count()).group_by(
            PipelineRun.company, PipelineRun.pipeline_name
        )
        if company is not None:
            query = query.where(PipelineRun.company == company)
        rows = self._session.execute(query.order_by(PipelineRun.company, PipelineRun.pipeline_name))
        return {(str(c), str(p)): int(n) for c, p, n in rows}

    def register_dataset_version(self, spec: DatasetVersionSpec, commit_seq: int = 0) -> DatasetVersionRecord:
        row = DatasetVersion(
            company=spec.company,
            dataset_name=spec.dataset_name,
            version_tag=spec.version_tag,
            schema_version=spec.schema_version,
            manifest_path=spec.manifest_path,
            row_count=spec.row_count,
            checksum=spec.checksum,
            produced_by_run_id=spec.produced_by_run_id,
            created_at=utcnow(),
            zone=spec.zone,
            schema_json=spec.schema,
            status="committed",
            as_of=spec.as_of,
            commit_seq=commit_seq,
        )
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError as exc:
            raise AlreadyExistsError(
                "dataset version", f"{spec.company}/{spec.zone}.{spec.dataset_name}@{spec.version_tag}"
            ) from exc
        return _to_version(row)

    def list_dataset_versions(
        self,
        company: str,
        dataset_name: str | None = None,
        zone: str | None = None,
        include_expired: bool = False,
        produced_by_run_id: str | None = None,
        with_schema: bool = True,
    ) -> list[DatasetVersionRecord]:
        """Versions in commit order (oldest commit first) per zone and dataset; ``with_schema=False``:
        without their schema (``schema`` None), read as plain rows: several times quicker."""
        query = (
            select(DatasetVersion)
            if with_schema
            else select(*(getattr(DatasetVersion, name).label(name) for name in _SUMMARY_FIELDS))
        ).where(DatasetVersion.company == company)
        if produced_by_run_id is not None:
            query = query.where(DatasetVersion.produced_by_run_id == produced_by_run_id)
        if dataset_name is not None:
            query = query.where(DatasetVersion.dataset_name == dataset_name)
        if zone is not None:
            query = query.where(DatasetVersion.zone == zone)
        if not include_expired:
            query = query.where(DatasetVersion.status == "committed")
        query = query.order_by(
            DatasetVersion.zone,
            DatasetVersion.dataset_name,
            DatasetVersion.commit_seq,
            DatasetVersion.version_tag,
        )
        if not with_schema:
            return [DatasetVersionRecord(**row._mapping) for row in self._session.execute(query)]
        return [_to_version(r) for r in self._session.scalars(query)]

    def expire_versions(self, ids: list[Any]) -> int:
        """Mark versions expired (their files are about to be removed by gc)."""
        if not ids:
            return 0
        result = self._session.execute(
            update(DatasetVersion)
            .where(DatasetVersion.id.in_(ids), DatasetVersion.status == "committed")
            .values(status="expired")
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result)

    def set_commit_seq(self, ids: list[Any], seq: int) -> None:
        if ids:
            self._session.execute(
                update(DatasetVersion)
                .where(DatasetVersion.id.in_(ids))
                .values(commit_seq=seq)
                .execution_options(synchronize_session=False)
            )

    def next_commit_seq(self) -> int:
        """The number of the commit being made: one more than any committed so far.

        Commits are serialized for this read: on PostgreSQL by a transaction-level advisory lock, on
        SQLite by its single writer (the caller has already written in this transaction).
        """
        if self._session.get_bind().dialect.name == "postgresql":
            self._session.execute(text("SELECT pg_advisory_xact_lock(hashtext('lakehouse:commit_seq'))"))
        current = self._session.scalar(select(func.coalesce(func.max(DatasetVersion.commit_seq), 0)))
        return int(current or 0) + 1

    def register_schema(
        self, company: str, zone: str, dataset: str, schema_version: str, schema: dict[str, Any], run_id: str
    ) -> None:
        """Register ``schema`` as ``schema_version`` of a dataset, or check it is the one registered.

        Raises:
            SchemaConflictError: that schema version is registered with other columns.
        """
        table = table_of(DatasetSchema)
        inserted = self._session.execute(
            dialect_insert(self._session, table)
            .values(
                id=schema_id(company, zone, dataset, schema_version),
                company=company,
                zone=zone,
                dataset_name=dataset,
                schema_version=schema_version,
                schema_json=schema,
                produced_by_run_id=run_id,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing()
            .returning(table.c.id)
        ).first()
        if inserted is not None:
            return
        row = self._session.execute(
            select(table.c.schema_json, table.c.produced_by_run_id).where(
                table.c.company == company,
                table.c.zone == zone,
                table.c.dataset_name == dataset,
                table.c.schema_version == schema_version,
            )
        ).one()
        if _columns(row.schema_json) != _columns(schema):
            raise SchemaConflictError(
                f"{zone}.{dataset}",
                schema_version,
                row.produced_by_run_id,
                _columns(row.schema_json),
                _columns(schema),
            )

    def get_schema(self, company: str, zone: str, dataset: str, schema_version: str) -> dict[str, Any] | None:
        table = table_of(DatasetSchema)
        return self._session.scalar(
            select(table.c.schema_json).where(
                table.c.company == company,
                table.c.zone == zone,
                table.c.dataset_name == dataset,
                table.c.schema_version == schema_version,
            )
        )


def _columns(schema: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The (name, type) list that identifies a schema version."""
    return [(str(c.get("name")), str(c.get("type"))) for c in (schema or {}).get("columns", [])]
