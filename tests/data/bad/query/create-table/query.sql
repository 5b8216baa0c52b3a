CREATE TABLE gold.stolen AS SELECT * FROM gold.kpis
