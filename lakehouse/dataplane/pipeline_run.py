"""One pipeline-run lifecycle for every pipeline: lock → start → stage → publish → finish, or fail + clean up.

Ingest, the dbt build, the transcript extraction (and the scheduler's tasks) all go through
:class:`PipelineRun`, the way pyiceberg's ``Transaction`` collects changes, commits them at the end
and deletes the files it wrote only when the commit did not land::

    with PipelineRun(store, company, "dbt_build", lock=f"build:{company}") as run:
        ...                                   # under the lock; no run recorded yet
        run.start(stage="silver_gold", inputs=inputs)
        run.stage(version)                    # files written under the run id
        records = run.publish()               # the one commit (control-plane transaction)
        run.finish(manifest)                  # run manifest + success

It owns the run row and its holder record (host, pid, heartbeat), the optional company lock, the
staged versions, the one publish, the run manifest, the failure record, and the cleanup:

- an exception inside the block marks the run failed (first, so it never stays ``running``), with
  ``published_versions`` if the commit had landed;
- files of a version that was not committed are removed, and so are the run's other files
  (:meth:`remove_unless_committed`: e.g. quarantine files); once committed they belong to visible
  versions and stay;
- scratch folders (:meth:`scratch`) are removed in every case;
- the heartbeat stops and the lock is released.

A block that ends without :meth:`finish` after :meth:`start` is a bug of the pipeline: the run is
marked failed rather than left running.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.store import DatasetStore, StagedVersion
from lakehouse.db.records import DatasetVersionRecord
from lakehouse.errors import InvalidStateError, LakehouseError
from lakehouse.ids import new_run_id

logger = logging.getLogger(__name__)


class PipelineRun:
    """The lifecycle of one pipeline run (see the module docstring).

    Args:
        store: the data plane (its DAL is the control plane).
        company: the company the run belongs to.
        pipeline: the pipeline name recorded on the run (``ingest``, ``dbt_build``, ...).
        lock: a lock to hold for the whole block (e.g. ``build:<company>``), or None.
        wait_seconds: how long to wait for ``lock`` (0: fail at once with :class:`LockBusyError`).
        on_wait: told who holds ``lock`` when this run starts waiting for it.
        run_id: the run id to use (default: a new one; it names the lock's holder too).
    """

    def __init__(
        self,
        store: DatasetStore,
        company: str,
        pipeline: str,
        *,
        lock: str | None = None,
        wait_seconds: float = 0.0,
        on_wait: Callable[[str], None] | None = None,
        run_id: str | None = None,
    ) -> None:
        self.store = store
        self.company = company
        self.pipeline = pipeline
        self.run_id = run_id or new_run_id()
        self.staged: list[StagedVersion] = []
        self.committed: list[DatasetVersionRecord] = []
        self._lock = lock
        self._wait = wait_seconds
        self._on_wait = on_wait
        self._started = False
        self._finished = False
        self._published = False
        self._extra_files: list[str] = []  # keys under the data root
        self._scratch: list[Path] = []
        self._stack = ExitStack()

    @property
    def dal(self) -> DataAccessLayer:
        return self.store.dal

    @property
    def started(self) -> bool:
        return self._started

    # --- the lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> PipelineRun:
        if self._lock is not None:
            self._stack.enter_context(
                self.dal.company_lock(self._lock, self.run_id, self._wait, self._on_wait)
            )
        return self

    def start(self, stage: str | None = None, inputs: dict[str, Any] | None = None) -> str:
        """Record the run as running (with this process as its holder) and start its heartbeat.

        Returns:
            The run id.
        """
        if self._started:
            raise InvalidStateError("pipeline run", self.run_id, "started already", "start it again")
        self.dal.start_pipeline_run(
            self.company, self.pipeline, stage=stage, input_manifest=inputs, run_id=self.run_id
        )
        self._started = True
        self._stack.enter_context(self.dal.run_heartbeat(self.run_id))  # other hosts judge it alive by it
        return self.run_id

    def stage(self, version: StagedVersion) -> StagedVersion:
        """Count ``version`` (its files written under this run) among what the run publishes or cleans up."""
        self.staged.append(version)
        return version

    def remove_unless_committed(self, key: str) -> None:
        """An object of the run (its key under the data root) that goes with a failure unless the run
        committed (e.g. quarantined rows)."""
        self._extra_files.append(key)

    def scratch(self, path: Path) -> Path:
        """A folder of the run removed when the block ends, whatever happened (e.g. ``_work/<run_id>``)."""
        self._scratch.append(path)
        return path

    def publish(
        self, versions: Sequence[StagedVersion] | None = None, **options: Any
    ) -> list[DatasetVersionRecord]:
        """Commit the staged versions (default: every one staged) in one control-plane transaction.

        ``options`` go to :meth:`DatasetStore.publish` (idempotency claims, per-file claims).
        """
        self._require_started("publish")
        if self._published:
            raise InvalidStateError(
                "pipeline run", self.run_id, "published already", "publish again (a run commits once)"
            )
        records = self.store.publish(list(self.staged if versions is None else versions), **options)
        self._published = True
        self.committed = records
        return records

    def finish(self, manifest: dict[str, Any]) -> None:
        """Write the run manifest and record the run's success (inside ``dal.transaction()`` if the
        caller needs other writes to commit with it)."""
        self._require_started("finish")
        self.store.write_run_manifest(self.company, manifest)
        self.dal.finish_pipeline_run(self.run_id, "success", manifests=manifest)
        self._finished = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._stack:  # the heartbeat stops and the lock is released last
            try:
                if self._started and (not self._finished or (exc is not None and self._finish_undone())):
                    failure = exc or InvalidStateError(
                        "pipeline run",
                        self.run_id,
                        "not finished",
                        f"end it (a bug of the {self.pipeline} pipeline)",
                    )
                    self._fail(failure)
                    if not self.committed:
                        self._clean_up()
            finally:
                for folder in self._scratch:
                    shutil.rmtree(folder, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------------------

    def _finish_undone(self) -> bool:
        """Whether a finish the block made was rolled back (its transaction failed afterwards)."""
        try:
            return self.dal.get_pipeline_run(self.run_id).status == "running"
        except Exception:  # the control plane is down: the next recovery pass marks the run
            return False

    def _require_started(self, what: str) -> None:
        if not self._started:
            raise InvalidStateError("pipeline run", self.run_id, "not started", what)

    def _fail(self, exc: BaseException) -> None:
        details: dict[str, Any] = {"message": " ".join(str(exc).split())}
        if isinstance(exc, LakehouseError):
            details.update(exc.run_error_details())
        if self.committed:  # a step after the commit failed: the versions stay published
            details["published_versions"] = [
                f"{r.zone}.{r.dataset_name}@{r.version_tag}" for r in self.committed
            ]
        self.dal.fail_pipeline_run(self.run_id, exc, **details)  # never raises

    def _clean_up(self) -> None:
        """Remove what an uncommitted run wrote; whatever the control plane says was committed stays."""
        try:
            if not self.store.discard(self.staged):
                return  # some of it was committed after all, or that cannot be told: gc decides
            self.store.root.objects.delete(self._extra_files)
        except Exception:  # never hide the error that failed the run; gc removes leftovers
            logger.warning("could not clean up after run %s: `lakehouse gc` will", self.run_id, exc_info=True)
