"""Sample-data generator: realistic daily extracts of a field-service company (see :mod:`.generator`)."""

from __future__ import annotations

from lakehouse.sample.generator import (
    DEFAULT_DAYS,
    DEFAULT_END_DATE,
    DEFAULT_SCALE,
    DEFAULT_SEED,
    GenerationSummary,
    generate,
)

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_END_DATE",
    "DEFAULT_SCALE",
    "DEFAULT_SEED",
    "GenerationSummary",
    "generate",
]
