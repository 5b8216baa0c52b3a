SELECT 1; DROP VIEW gold.kpis
