"""The file index (``dataset_files``): the data files of committed dataset versions.

Rows are added in the transaction that commits their version (:meth:`add_files`) and read for many
versions in one query (:meth:`files_of`). Set-based: one INSERT per version, one SELECT per read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lakehouse.db.models import DatasetFile, table_of
from lakehouse.db.records import DatasetFileRecord

FILES = table_of(DatasetFile)

#: How many version ids one ``IN (...)`` lists (well under every backend's bound-parameter limit).
IN_BATCH = 500


class SqlFileIndexRepo:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add_files(
        self,
        version_id: uuid.UUID,
        company: str,
        zone: str,
        dataset_name: str,
        files: Sequence[DatasetFileRecord],
    ) -> None:
        """Index the files of one version, in manifest order (nothing for a version without files)."""
        if not files:
            return
        self._session.execute(
            insert(FILES),
            [
                {
                    "id": uuid.uuid4(),
                    "version_id": version_id,
                    "company": company,
                    "zone": zone,
                    "dataset_name": dataset_name,
                    "path": f.path,
                    "position": position,
                    "size_bytes": f.size_bytes,
                    "row_count": f.row_count,
                    "checksum": f.checksum,
                    "dt": f.dt,
                    "dt_min": f.dt_min,
                    "dt_max": f.dt_max,
                    "key_min": f.key_min,
                    "key_max": f.key_max,
                }
                for position, f in enumerate(files)
            ],
        )

    def files_of(self, version_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[DatasetFileRecord]]:
        """version id -> its indexed files in manifest order; a version without rows is absent."""
        ids = list(dict.fromkeys(version_ids))
        out: dict[uuid.UUID, list[DatasetFileRecord]] = {}
        for start in range(0, len(ids), IN_BATCH):
            rows = self._session.execute(
                select(
                    FILES.c.version_id,
                    FILES.c.path,
                    FILES.c.size_bytes,
                    FILES.c.row_count,
                    FILES.c.checksum,
                    FILES.c.dt,
                    FILES.c.dt_min,
                    FILES.c.dt_max,
                    FILES.c.key_min,
                    FILES.c.key_max,
                )
                .where(FILES.c.version_id.in_(ids[start : start + IN_BATCH]))
                .order_by(FILES.c.version_id, FILES.c.position)
            ).all()
            for row in rows:
                out.setdefault(row.version_id, []).append(
                    DatasetFileRecord(
                        row.path,
                        row.size_bytes,
                        row.row_count,
                        row.checksum,
                        row.dt,
                        row.dt_min,
                        row.dt_max,
                        row.key_min,
                        row.key_max,
                    )
                )
        return out
