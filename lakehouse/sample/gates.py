"""Sample review-gate files for the demo, in the format the PR review automation writes (docs/gates.md).

Three tasks: one ready in strict mode (every check passed), one ready in soft mode (ci, the branch and
one reviewer passed), one not ready (CI failing). ``lakehouse gates sync`` of the folder gives two
ready gates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lakehouse.dataplane.atomic import atomic_write_text

REPO = "datahound/field-service-app"

SAMPLE_GATES: tuple[dict[str, Any], ...] = (
    {
        "schema_version": "1",
        "task_id": "DH-101",
        "pr": {"number": 214, "repo": REPO, "branch": "feat/dh-101-dispatch-board-filters"},
        "head_commit": "3f9c2a7e41b0d8c6a5e2f1b7c9d04e6a8b3c5d71",
        "mode": "strict",
        "checks": {
            "ci": True,
            "codex": True,
            "claude": True,
            "gemini": True,
            "branch_up_to_date": True,
            "screenshots": True,
        },
    },
    {
        "schema_version": "1",
        "task_id": "DH-102",
        "pr": {"number": 217, "repo": REPO, "branch": "fix/dh-102-invoice-rounding"},
        "head_commit": "a41e7c09b2d35f68e1c4a7b90d2e3f5c6a8b1d24",
        "mode": "soft",
        "checks": {
            "ci": True,
            "codex": False,
            "claude": True,
            "gemini": False,
            "branch_up_to_date": True,
            "screenshots": False,
        },
    },
    {
        "schema_version": "1",
        "task_id": "DH-103",
        "pr": {"number": 219, "repo": REPO, "branch": "feat/dh-103-technician-eta-sms"},
        "head_commit": "0c6d8e2f4a1b3c5d7e9f0a2b4c6d8e1f3a5b7c90",
        "mode": "strict",
        "checks": {
            "ci": False,
            "codex": True,
            "claude": True,
            "gemini": False,
            "branch_up_to_date": False,
            "screenshots": True,
        },
    },
)
"""The sample gates: DH-101 ready (strict), DH-102 ready (soft), DH-103 not ready."""


def write_sample_gates(folder: Path) -> list[Path]:
    """Write the sample gate files into ``folder`` (created if missing), one ``<task_id>.json`` each.

    Each file is written atomically; existing files of the same names are replaced.

    Returns:
        The files written, by task id.
    """
    paths = []
    for gate in SAMPLE_GATES:
        path = Path(folder) / f"{gate['task_id']}.json"
        atomic_write_text(path, json.dumps(gate, indent=2) + "\n")
        paths.append(path)
    return paths
