"""A dbt-duckdb plugin (``plugins:`` of ``dbt_project/profiles.yml``): dbt's DuckDB connection reads
and writes ``s3://`` the way every other connection of the process does.

``lakehouse build`` runs dbt in its own process, so the connection gets httpfs and the temporary
secret of the S3 access the data root was opened with (:func:`lakehouse.dataplane.duck.use_s3`);
on a local data root, or under plain ``dbt``, the plugin does nothing.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from lakehouse.dataplane import duck


class Plugin(BasePlugin):
    def configure_connection(self, conn: Any) -> None:
        access = duck.s3_access()
        if access is not None:
            from lakehouse.dataplane.s3 import enable_s3

            enable_s3(conn, access)
