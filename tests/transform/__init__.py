"""Transform plane: dbt builds, the dbt sandboxes, events, transcript extraction."""
