"""Benchmarks: each reports figures and a ratio against a baseline run in the same process.

Run with ``make bench`` (``python -m bench``). Speed is measured here, never in unit tests.
"""
