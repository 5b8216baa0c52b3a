"""The analyst layer: the catalog, the query sandbox, saved queries, rendering."""
