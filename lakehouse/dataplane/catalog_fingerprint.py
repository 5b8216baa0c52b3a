"""The fingerprint a catalog records of the committed versions it reflects (standard library only,
so the start-up path of ``lakehouse query`` can compute it without the data plane's imports)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def versions_fingerprint(versions: Iterable[tuple[str, str, str, str | None]]) -> str:
    """``sha256:`` over the sorted ``zone/dataset/version_tag/checksum`` of committed versions."""
    tags = sorted(f"{zone}/{dataset}/{tag}/{checksum}" for zone, dataset, tag, checksum in versions)
    return "sha256:" + hashlib.sha256("\n".join(tags).encode()).hexdigest()
