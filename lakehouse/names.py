"""Names every plane shares: the slug rule of company and dataset names, and the zone names.

This is the bottom layer, beside :mod:`lakehouse.errors` and :mod:`lakehouse.ids`: it imports nothing
of the package but the errors, so the config plane (its models), the control plane (its ``zone``
check constraints) and the data plane (its paths) all take the rule from here instead of keeping a
copy. The one copy that cannot import it, the ``company()`` macro of ``dbt_project/macros/run_vars.sql``,
is held equal to :data:`SLUG_REGEX` by ``tests/package/test_one_copy.py``.
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

from lakehouse.errors import InvalidNameError

SLUG_REGEX: Final = r"[a-z0-9][a-z0-9_-]{0,62}"
"""Regex source of a slug, unanchored: match it whole (:meth:`re.Pattern.fullmatch`, or between ``^``
and ``$`` where ``$`` means the end of the text, as in pydantic's Rust regex engine)."""
SLUG_PATTERN: Final = re.compile(SLUG_REGEX)

DataZone = Literal["bronze", "silver", "gold"]
"""A zone that holds datasets: Parquet files whose versions the control plane records."""
Zone = Literal[DataZone, "manifests"]
"""A folder of a company's data root: the data zones and the manifests."""
DATA_ZONES: Final[tuple[DataZone, ...]] = get_args(DataZone)
ZONES: Final[tuple[Zone, ...]] = get_args(Zone)
#: The zones dbt builds (curated snapshots); bronze is ingested.
BUILT_ZONES: Final[tuple[DataZone, ...]] = DATA_ZONES[1:]


def is_slug(value: object) -> bool:
    """Whether ``value`` is a string of 1-63 characters of ``a-z0-9_-`` starting with a letter or digit."""
    return isinstance(value, str) and SLUG_PATTERN.fullmatch(value) is not None


def validate_slug(kind: str, value: str) -> str:
    """Check that ``value`` is a valid company or dataset name.

    Args:
        kind: what the name is for (``"company"``, ``"dataset"``), used in the error message.
        value: the name to check.

    Returns:
        ``value`` unchanged.

    Raises:
        InvalidNameError: ``value`` is not 1-63 characters of ``a-z0-9_-`` starting with a letter or digit.
    """
    if not is_slug(value):
        raise InvalidNameError(kind, str(value))
    return value
