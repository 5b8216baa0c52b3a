"""Review gates: ``ready`` is always computed from the checks and the mode, never copied in."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehouse.db.models import ReviewGate, table_of
from lakehouse.db.records import GateMode, PullRequest, ReviewChecks, ReviewGateRecord
from lakehouse.db.repos._upsert import dialect_insert
from lakehouse.db.types import utcnow
from lakehouse.errors import InvalidStateError, NotFoundError


def _checks(row: ReviewGate) -> ReviewChecks:
    return ReviewChecks(
        ci_passed=row.ci_passed,
        codex_passed=row.codex_passed,
        claude_passed=row.claude_passed,
        gemini_passed=row.gemini_passed,
        branch_up_to_date=row.branch_up_to_date,
        screenshots_included=row.screenshots_included,
    )


def _to_gate(row: ReviewGate) -> ReviewGateRecord:
    return ReviewGateRecord(
        task_id=row.task_id,
        pr=PullRequest(number=row.pr_number, repo=row.repo, branch=row.branch),
        checks=_checks(row),
        mode=row.mode,
        ready=row.ready,
        updated_at=row.updated_at,
        head_commit=row.head_commit,
    )


class SqlReviewRepo:
    """Queries over ``review_gates``."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def upsert_review_gate(
        self,
        task_id: str,
        pr: PullRequest,
        checks: ReviewChecks,
        mode: GateMode,
        head_commit: str | None = None,
    ) -> ReviewGateRecord:
        """Create or update a gate; ``ready`` is computed. A gate already in this state is left as it is
        (``updated_at`` kept), so syncing the same gate file again writes nothing."""
        values: dict[str, object] = {
            "task_id": task_id,
            "pr_number": pr.number,
            "repo": pr.repo,
            "branch": pr.branch,
            **checks.as_dict(),
            "mode": mode,
            "ready": checks.is_ready(mode),
            "head_commit": head_commit,
        }
        current = self._find(task_id)
        if current is not None and all(getattr(current, k) == v for k, v in values.items()):
            return _to_gate(current)
        values["updated_at"] = utcnow()
        table = table_of(ReviewGate)
        stmt = dialect_insert(self._session, table).values(id=uuid.uuid4(), **values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.task_id],
            set_={k: v for k, v in values.items() if k != "task_id"},
        )
        self._session.execute(stmt)
        return self.get(task_id)

    def list_gates(self, ready: bool | None = None) -> list[ReviewGateRecord]:
        """Every gate by task id; only the ready (``True``) or the not ready (``False``) ones if asked."""
        query = select(ReviewGate).order_by(ReviewGate.task_id)
        if ready is not None:
            query = query.where(ReviewGate.ready.is_(ready))
        return [_to_gate(row) for row in self._session.scalars(query)]

    def _find(self, task_id: str) -> ReviewGate | None:
        self._session.expire_all()
        return self._session.scalars(select(ReviewGate).where(ReviewGate.task_id == task_id)).first()

    def get(self, task_id: str) -> ReviewGateRecord:
        row = self._find(task_id)
        if row is None:
            raise NotFoundError("review gate for task", task_id)
        return _to_gate(row)

    def mark_ready(self, task_id: str) -> ReviewGateRecord:
        """Mark a gate ready after re-checking its stored checks in its mode.

        Raises:
            NotFoundError: no gate for ``task_id``.
            InvalidStateError: a check the mode requires has not passed (they are named).
        """
        row = self._session.scalars(
            select(ReviewGate).where(ReviewGate.task_id == task_id).with_for_update()
        ).first()
        if row is None:
            raise NotFoundError("review gate for task", task_id)
        failing = _checks(row).failing("soft" if row.mode == "soft" else "strict")
        if failing:
            raise InvalidStateError(
                "review gate",
                task_id,
                f"not ready in {row.mode} mode (failing: {', '.join(failing)})",
                "mark it ready",
            )
        row.ready = True
        row.updated_at = utcnow()
        self._session.flush()
        return _to_gate(row)
