"""Control plane: SQLAlchemy engine, ORM models and per-entity repositories."""
