DROP VIEW gold.kpis
