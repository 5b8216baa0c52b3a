SELECT * FROM read_parquet('{DATA}/acme/gold/../../../../../etc/passwd')
