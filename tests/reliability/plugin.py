"""The reliability suite's settings and the counts it prints, as a plugin of the whole test session.

It is registered by ``tests/conftest.py`` (not the suite's own conftest) so that under pytest-xdist
the controller, which collects nothing, still prints the counts: each worker sends its tallies in
``workeroutput`` and the controller adds them up. The controller also draws the seed and gives it
to every worker, so one printed seed replays the whole run.

``LAKEHOUSE_RELIABILITY_TRIALS`` sets the number of crash trials of each kind per backend (default
:data:`DEFAULT_TRIALS`: the short run of ``make test``; ``make test-reliability`` sets 30).
``LAKEHOUSE_RELIABILITY_SEED`` replays the random kill points of an earlier session (it is printed).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from typing import Any

import pytest

from tests.reliability.checks import Tally

TRIALS_ENV = "LAKEHOUSE_RELIABILITY_TRIALS"
SEED_ENV = "LAKEHOUSE_RELIABILITY_SEED"
DEFAULT_TRIALS = 1
#: From this many trials on, a run is the long one (every case on both backends).
LONG_RUN_TRIALS = 5

_TALLIES = pytest.StashKey[dict[str, Tally]]()
_SEED = pytest.StashKey[int]()
_WORKER_KEY = "reliability_tallies"


def trials_setting() -> int:
    value = os.environ.get(TRIALS_ENV, "").strip()
    if not value:
        return DEFAULT_TRIALS
    try:
        trials = int(value)
    except ValueError:
        raise pytest.UsageError(f"{TRIALS_ENV} must be a whole number, not {value!r}") from None
    if trials < 1:
        raise pytest.UsageError(f"{TRIALS_ENV} must be at least 1, not {trials}")
    return trials


def long_run() -> bool:
    """The long run (``make test-reliability``): every case on both backends."""
    return trials_setting() >= LONG_RUN_TRIALS


def seed_of(config: pytest.Config) -> int:
    return config.stash[_SEED]


def register_tally(config: pytest.Config, tally: Tally) -> None:
    config.stash[_TALLIES][tally.nodeid] = tally


def pytest_configure(config: pytest.Config) -> None:
    given = getattr(config, "workerinput", {}).get("reliability_seed") or os.environ.get(SEED_ENV, "").strip()
    config.stash[_SEED] = int(given) if given else random.SystemRandom().randrange(10**9)
    config.stash[_TALLIES] = {}


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: every worker draws its kill points from the controller's seed."""
    node.workerinput["reliability_seed"] = str(node.config.stash[_SEED])


def pytest_sessionfinish(session: pytest.Session) -> None:
    """xdist worker: send the tallies to the controller."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output[_WORKER_KEY] = [_to_wire(t) for t in session.config.stash[_TALLIES].values()]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: add up the tallies of a worker that finished."""
    for wire in getattr(node, "workeroutput", {}).get(_WORKER_KEY, []):
        register_tally(node.config, _from_wire(wire))


def _to_wire(tally: Tally) -> dict[str, Any]:
    return {
        "nodeid": tally.nodeid,
        "trials": tally.trials,
        "crashes": tally.crashes,
        "cases": tally.cases,
        "findings": list(tally.findings),
        "notes": list(tally.notes),
        "crash_points": dict(tally.crash_points),
    }


def _from_wire(wire: dict[str, Any]) -> Tally:
    return Tally(**(wire | {"crash_points": Counter(wire["crash_points"])}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    tallies = config.stash.get(_TALLIES, {})
    if not tallies:
        return
    tr = terminalreporter
    tr.section("reliability suite")
    mode = "long run: every case on both backends" if long_run() else "short run"
    tr.write_line(
        f"{mode}; {trials_setting()} trial(s) per kind ({TRIALS_ENV}); seed {seed_of(config)} ({SEED_ENV})"
    )
    for tally in sorted(tallies.values(), key=lambda t: t.nodeid):
        tr.write_line(tally.summary())
        for note in tally.notes:
            tr.write_line(f"    note: {note}")
        for found in tally.findings[:25]:
            tr.write_line(f"    finding: {found}")
        if len(tally.findings) > 25:
            tr.write_line(f"    ... and {len(tally.findings) - 25} more finding(s)")
    total = list(tallies.values())
    tr.write_line(
        f"total: {sum(t.trials for t in total)} trial(s), {sum(t.crashes for t in total)} crash(es) "
        f"injected, {sum(t.cases for t in total)} case(s), {sum(len(t.findings) for t in total)} finding(s)"
    )
