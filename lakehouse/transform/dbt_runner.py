"""Run dbt in-process (``dbtRunner``) against a per-run DuckDB file and collect its results."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse.dataplane.atomic import atomic_symlink, atomic_write_bytes
from lakehouse.errors import TransformError
from lakehouse.names import BUILT_ZONES

logger = logging.getLogger(__name__)

#: Called with (unique_id, status) as each dbt node starts ("started") and finishes.
NodeProgress = Callable[[str, str], None]


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    resource_type: str
    name: str
    status: str
    message: str | None
    execution_time: float
    failures: int | None


@dataclass
class DbtInvocation:
    success: bool
    invocation_id: str | None
    nodes: list[NodeResult] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    run_results: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def failed(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in {"error", "fail", "runtime error"}]


@contextmanager
def temporary_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block (dbt reads its settings from the environment)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def dbt_env(db_path: Path, **extra: str) -> dict[str, str]:
    """The environment of every dbt invocation: the DuckDB file ``profiles.yml`` reads, no usage stats."""
    return {"LAKEHOUSE_DBT_DB_PATH": str(db_path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **extra}


def exit_code(result: Any) -> int:
    """The exit code the ``dbt`` command gives for a ``dbtRunnerResult``.

    0 success; 1 a node or test failed (dbt's ``ModelError``); 2 dbt could not run (a usage, parse
    or internal error: ``UnhandledError``); 130 interrupted (Ctrl-C).
    """
    if result.success:
        return 0
    if isinstance(result.exception, KeyboardInterrupt):
        return 130
    return 1 if result.exception is None else 2


def release_dbt_resources() -> None:
    """Release what an in-process invoke leaves open: the DuckDB file and the dbt.log handler.

    dbt-duckdb keeps its database open in the process (profile ``keep_open``), so no other
    connection could open the file; and dbt drops, without closing, the previous invoke's dbt.log
    handler when the next invoke sets up logging.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt_common.events.event_manager_client import get_event_manager

    DuckDBConnectionManager.close_all_connections()  # type: ignore[no-untyped-call]
    for dbt_logger in get_event_manager().loggers:
        python_logger = logging.getLogger(dbt_logger.name)
        for handler in list(python_logger.handlers):
            if isinstance(handler, logging.FileHandler):
                python_logger.removeHandler(handler)
                handler.close()


#: The environment variable the ``as_of()`` macro reads when var ``as_of`` is empty (``lakehouse
#: build`` passes the as-of there: a new as-of in --vars would invalidate dbt's partial parse).
AS_OF_ENV = "LAKEHOUSE_DBT_AS_OF"
#: Under a company's ``_work/``: the link to the running build's folder and the partial-parse cache.
CURRENT_RUN_LINK = "dbt-current"
PARSE_CACHE = "dbt-partial-parse.msgpack"


def stable_db_path(work_root: Path, run_dir: Path, file_name: str) -> Path:
    """A path of ``run_dir/file_name`` that is the same for every run: ``work_root/dbt-current/<file>``.

    dbt keys its partial parse on the profile (the DuckDB path included): through a link that
    each run re-points (atomically, under the company's build lock) the profile stays the same
    while every run still has a DuckDB file (and its WAL) in its own folder.
    """
    link = work_root / CURRENT_RUN_LINK
    atomic_symlink(link, run_dir.name if run_dir.parent == work_root else run_dir)
    return stable_profile_path(work_root, file_name)


def stable_profile_path(work_root: Path, file_name: str) -> Path:
    """The path :func:`stable_db_path` gives, without linking it (for ``dbt ls``, which opens no file)."""
    return work_root / CURRENT_RUN_LINK / file_name


def drop_stable_db_path(work_root: Path) -> None:
    """Remove the link of :func:`stable_db_path` once its run is over (its folder goes next)."""
    (work_root / CURRENT_RUN_LINK).unlink(missing_ok=True)


def restore_parse_cache(cache: Path, target_dir: Path) -> None:
    """Seed ``target_dir`` with the previous run's ``partial_parse.msgpack`` (dbt checks it is valid)."""
    if cache.is_file():
        target_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache, target_dir / "partial_parse.msgpack")


def save_parse_cache(target_dir: Path, cache: Path) -> None:
    """Keep this run's ``partial_parse.msgpack`` for the next one (atomically; a cache only)."""
    source = target_dir / "partial_parse.msgpack"
    if source.is_file():
        atomic_write_bytes(cache, source.read_bytes())


def _project_args(
    command: str, project_dir: Path, target_dir: Path, variables: Mapping[str, Any]
) -> list[str]:
    """The arguments every dbt invocation of a run shares: project, profile, target and log folders, vars."""
    return [
        command,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(target_dir / "logs"),
        "--vars",
        json.dumps(dict(variables)),
    ]


def run_dbt_build(
    project_dir: Path,
    db_path: Path,
    target_dir: Path,
    variables: Mapping[str, Any],
    run_id: str,
    select: list[str] | None = None,
    progress: NodeProgress | None = None,
    as_of: str | None = None,
) -> DbtInvocation:
    """``dbt build`` (models and their tests) into ``db_path``, in this process.

    The run_id reaches dbt's artifacts as ``DBT_ENV_CUSTOM_ENV_LAKEHOUSE_RUN_ID`` (under
    ``metadata.env`` in ``run_results.json`` and ``manifest.json``). ``as_of`` (when var
    ``as_of`` is not in ``variables``) reaches the ``as_of()`` macro through :data:`AS_OF_ENV`.
    """
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import reset_metadata_vars

    def on_event(event: Any) -> None:
        if progress is None:
            return
        name = event.info.name
        if name not in {"NodeStart", "NodeFinished"}:
            return
        node_info = getattr(event.data, "node_info", None)
        if node_info is None:
            return
        status = "started" if name == "NodeStart" else (node_info.node_status or "done")
        progress(node_info.unique_id, status)

    args = [
        *_project_args("build", project_dir, target_dir, variables),
        # Nothing on stdout: the CLI shows progress and a one-line result; the full dbt log is kept
        # with the run's artifacts (manifests/dbt/<run_id>/dbt.log).
        "--log-level",
        "none",
        "--log-level-file",
        "info",
        "--no-use-colors",
    ]
    if select:
        # Each run starts from a fresh DuckDB file: views (staging) are cheap, so they are always
        # rebuilt and a selected silver model finds its staging parents.
        # Tests run only when every model they read was selected ("cautious"): a relationships test
        # from an unselected model would otherwise read a table this run never built.
        args += ["--select", *select, "config.materialized:view", "--indirect-selection", "cautious"]
    env = dbt_env(db_path, DBT_ENV_CUSTOM_ENV_LAKEHOUSE_RUN_ID=run_id, **{AS_OF_ENV: as_of or ""})
    with temporary_environ(env):
        # dbt caches DBT_ENV_CUSTOM_ENV_* once per process: drop the cache so this run's id is used.
        reset_metadata_vars()
        try:
            result = dbtRunner(callbacks=[on_event]).invoke(args)
        finally:
            release_dbt_resources()
    invocation = DbtInvocation(success=bool(result.success), invocation_id=None)
    if result.exception is not None:
        invocation.error = " ".join(str(result.exception).split())
    run_results_path = target_dir / "run_results.json"
    manifest_path = target_dir / "manifest.json"
    if run_results_path.exists():
        invocation.run_results = json.loads(run_results_path.read_text())
        invocation.invocation_id = invocation.run_results.get("metadata", {}).get("invocation_id")
    if manifest_path.exists():
        invocation.manifest = json.loads(manifest_path.read_text())
    nodes_meta = invocation.manifest.get("nodes", {})
    for r in invocation.run_results.get("results", []):
        uid = r["unique_id"]
        node = nodes_meta.get(uid, {})
        invocation.nodes.append(
            NodeResult(
                unique_id=uid,
                resource_type=node.get("resource_type", uid.split(".")[0]),
                name=node.get("name", uid.split(".")[-1]),
                status=str(r.get("status")),
                message=r.get("message"),
                execution_time=float(r.get("execution_time") or 0.0),
                failures=r.get("failures"),
            )
        )
    # A build that failed before running any node (a parse error) has no nodes, only ``error``:
    # the caller keeps the log and reports it.
    return invocation


def published_models(invocation: DbtInvocation) -> list[dict[str, Any]]:
    """Models built successfully in this invocation whose ``meta.zone`` is silver or gold."""
    built = {n.unique_id for n in invocation.nodes if n.resource_type == "model" and n.status == "success"}
    models = []
    for uid, node in invocation.manifest.get("nodes", {}).items():
        if uid not in built:
            continue
        meta = node.get("config", {}).get("meta", {}) or node.get("meta", {})
        zone = meta.get("zone")
        if zone not in BUILT_ZONES:
            continue
        key = node.get("config", {}).get("unique_key")
        models.append(
            {
                "unique_id": uid,
                "name": node["name"],
                "schema": node["schema"],
                "alias": node.get("alias") or node["name"],
                "zone": zone,
                "schema_version": str(meta.get("schema_version", "1")),
                # a single key column; a list of them or none: no key range is indexed
                "unique_key": key if isinstance(key, str) else None,
            }
        )
    return sorted(models, key=lambda m: (m["zone"], m["name"]))


def list_models(
    project_dir: Path, target_dir: Path, variables: Mapping[str, Any], select: list[str], db_path: Path
) -> list[dict[str, Any]]:
    """The models ``dbt ls --select <select>`` names, with their ``meta.zone`` (silver/gold/staging).

    ``dbt ls`` opens no database, but the profile's DuckDB path (``db_path``) and ``variables`` key
    dbt's partial parse: give those of the build (:func:`stable_db_path`, vars without ``as_of``)
    and its parse cache in ``target_dir``, and the listing parses only what changed.

    Raises:
        TransformError: dbt could not list the project (a parse error, an unknown selector).
    """
    from dbt.cli.main import dbtRunner

    args = [
        *_project_args("ls", project_dir, target_dir, variables),
        "--log-level",
        "none",
        "--resource-type",
        "model",
        "--output",
        "json",
        "--output-keys",
        "unique_id name config",
        "--select",
        *select,
    ]
    env = dbt_env(db_path)
    with temporary_environ(env):
        try:
            result = dbtRunner().invoke(args)
        finally:
            release_dbt_resources()
    if not result.success:
        reason = " ".join(str(result.exception or "see the dbt log").split())
        raise TransformError(f"dbt could not list the models of --select {' '.join(select)}: {reason}")
    models = []
    listed = result.result if isinstance(result.result, list) else []
    for line in listed:
        node = json.loads(line) if isinstance(line, str) else line
        meta = (node.get("config") or {}).get("meta") or {}
        models.append({"unique_id": node["unique_id"], "name": node["name"], "zone": meta.get("zone")})
    return models
