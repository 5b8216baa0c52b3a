"""The sample-data generator."""
