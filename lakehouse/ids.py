"""Identifiers: sortable run ids."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

_RUN_ID = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{8}$")


def new_run_id(now: datetime | None = None) -> str:
    """Return a new run id: UTC time to the microsecond, then 8 random hex digits.

    Ids sort by creation time as text, are unique across processes, and contain only
    ``[0-9A-Za-z-]`` so they can be part of file names.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(4)


def is_run_id(value: str) -> bool:
    """Whether ``value`` has the shape of a run id made by :func:`new_run_id`."""
    return bool(_RUN_ID.match(value))
