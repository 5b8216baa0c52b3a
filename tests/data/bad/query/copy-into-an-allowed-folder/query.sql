COPY (SELECT 1 AS k) TO '{DATA}/acme/gold/dataset=kpis/dt=2026-09-30/extra.parquet'
