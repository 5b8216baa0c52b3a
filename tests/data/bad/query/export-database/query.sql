EXPORT DATABASE '/tmp/lakehouse-bad-query-export'
