COPY (SELECT * FROM gold.kpis) TO '/tmp/lakehouse-bad-query-copy.csv'
