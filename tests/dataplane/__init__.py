"""Data plane: the store, ingest, formats, maintenance, the run lifecycle, recovery."""
