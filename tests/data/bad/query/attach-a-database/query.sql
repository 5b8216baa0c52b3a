ATTACH '/tmp/lakehouse-bad-query.duckdb' AS other
