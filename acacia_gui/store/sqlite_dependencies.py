"""Job dependencies on SQLite: the edges, what a new job's state is, and settling dependents.

A job with `after` is `waiting` until its dependencies are settled. Settling happens in
the transaction that finishes a dependency (a completion, a cancel, a recovery, a
delete), so there is no poll and no moment in which a dependent could start early, and a
kill at any point leaves the graph as the last commit left it. Releasing the dependents
of one job is one UPDATE through the `job_dependencies_upstream` index; waiting jobs are
outside the claim's index (`jobs_ready` holds only queued ones), so they cost the claim
nothing.

Ids give a topological order: a dependency always exists before its dependent (a batch is
inserted dependencies first), so a dependency's id is smaller.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.definitions import FINAL_STATES, AfterPolicy, JobState
from ..core.job import JobId
from .sqlite_db import SqliteDatabase

_FINAL = "(" + ", ".join(f"'{s.value}'" for s in sorted(FINAL_STATES)) + ")"
_ENDED_BADLY = "('failed', 'cancelled', 'interrupted')"
_CHUNK = 500

# A dependency `p` (edge `d`) still holds its dependent back.
UNSATISFIED = f"NOT (p.state = 'succeeded' OR (d.policy = 'finished' AND p.state IN {_FINAL}))"

# These waiting dependents, if nothing holds them back any more → queued (or scheduled
# while their delay runs). One statement per chunk of dependents.
_RELEASE = (
    "UPDATE jobs SET state = CASE WHEN run_at > ? THEN 'scheduled' ELSE 'queued' END"
    " WHERE id IN ({marks}) AND state = 'waiting'"
    " AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on"
    f" WHERE d.job_id = jobs.id AND {UNSATISFIED})"
    " RETURNING id, queue, state"
)

# The same dependents, read instead of released, for the engine's claim to take straight from
# `waiting` (see settle's `hold`): whether the delay still runs, and whether the row is sound
# enough to sort and claim (a broken one is released by _RELEASE, and the claim sets it aside).
_RELEASABLE = (
    "SELECT id, queue, priority, type, run_at > ?, typeof(priority) = 'integer' AND typeof(queue) = 'text'"
    " AND queue NOT GLOB '*[^A-Za-z0-9_.-]*' AND typeof(type) = 'text' AND typeof(run_at) = 'real'"
    " FROM jobs WHERE id IN ({marks}) AND state = 'waiting'"
    " AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on"
    f" WHERE d.job_id = jobs.id AND {UNSATISFIED})"
)
RELEASED_MESSAGE = "its dependencies are done"

# A chain's step in the engine's transaction (a parent that succeeded, dependents held for the claim):
# the parent's next dependents with what _RELEASABLE reads of each, in one statement; the last
# column says whether it is releasable (still `waiting`, nothing else holds it back).
_CHILDREN_RELEASABLE = (
    "SELECT e.job_id, c.queue, c.priority, c.type, c.run_at > ?, typeof(c.priority) = 'integer'"
    " AND typeof(c.queue) = 'text' AND c.queue NOT GLOB '*[^A-Za-z0-9_.-]*' AND typeof(c.type) = 'text'"
    " AND typeof(c.run_at) = 'real', c.state = 'waiting' AND NOT EXISTS (SELECT 1 FROM job_dependencies d"
    f" JOIN jobs p ON p.id = d.depends_on WHERE d.job_id = c.id AND {UNSATISFIED})"
    " FROM job_dependencies e LEFT JOIN jobs c ON c.id = e.job_id"
    " WHERE e.depends_on = ? AND e.job_id > ? ORDER BY e.job_id LIMIT ?"
)

# These waiting dependents of a job that ended badly, under `success` → cancelled, naming it.
_CANCEL = (
    "UPDATE jobs SET state = 'cancelled', finished_at = ?, error = ?"
    " WHERE id IN ({marks}) AND +state = 'waiting'"  # `+`: by id, not through jobs_state (every waiting job)
    " AND EXISTS (SELECT 1 FROM job_dependencies d WHERE d.job_id = jobs.id AND d.depends_on = ? AND d.policy = 'success')"
    " RETURNING id, queue"
)

# The engine settles at most this many dependents in one transaction, so a job with 10,000
# dependents does not hold the writer (and the start of the first of them) for the time of
# 10,000 row updates: the rest are settled by the next transactions, from release_backlog
# (written in the same transaction, so a crash in between loses nothing). User actions
# (cancel, delete, retry) settle everything at once.
ENGINE_SETTLE_BUDGET = 500
_UNLIMITED = 100_000  # dependents per statement group when there is no budget


def blocking_message(dependency: JobId, state: str) -> str:
    """Why a `success` dependent is cancelled: the words _CANCEL writes."""
    verb = {"failed": "failed", "cancelled": "was cancelled"}.get(state, "was interrupted")
    return f"dependency {dependency} {verb}"


def satisfied(policy: str, state: str) -> bool:
    return state == JobState.SUCCEEDED or (policy == AfterPolicy.FINISHED and state in FINAL_STATES)


def blocks(policy: str, state: str) -> bool:
    """A dependency in `state` means its dependent can never run under `policy`."""
    return policy == AfterPolicy.SUCCESS and state in FINAL_STATES and state != JobState.SUCCEEDED


def add_edges(conn: sqlite3.Connection, job_id: JobId, dependencies: Iterable[JobId], policy: str) -> None:
    conn.executemany("INSERT OR IGNORE INTO job_dependencies (job_id, depends_on, policy) VALUES (?, ?, ?)",
                     [(job_id, dep, policy) for dep in dependencies])  # fmt: skip


def states_of(conn: sqlite3.Connection, ids: Sequence[JobId]) -> dict[JobId, str]:
    found: dict[JobId, str] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        found.update(conn.execute(f"SELECT id, state FROM jobs WHERE id IN ({', '.join('?' * len(chunk))})", chunk))
    return found


def settle(db: SqliteDatabase, conn: sqlite3.Connection, finished: Sequence[JobId], source: str,
           now: float, budget: int | None = None, states: dict[JobId, str] | None = None,
           hold: list[tuple[JobId, str, int, str]] | None = None,
           events: list[tuple[Any, ...]] | None = None) -> list[tuple[JobId, str, str]]:  # fmt: skip
    """Jobs that just reached a final state: release their dependents that nothing else
    holds back, cancel their `success` dependents if they ended badly, and go on from
    those (transitively). Inside the caller's transaction; events are written and the
    changes noted (db.note) for announcing once it commits. Returns them too.

    `budget`: settle at most about this many dependents now, going on with what
    release_backlog holds from earlier transactions first (read only while db.settle_backlog
    says it may hold rows); what is left is written there.
    `states`: the final states of `finished`, when the caller knows them (one read less each).
    `hold`: the engine's claim takes released dependents straight from `waiting` (a chain's
    next step is then written once, not `queued` and then `running`): those due now are not
    written here but appended to `hold` as (id, queue, priority, type) and noted as `queued`;
    the caller must, in this transaction, write their `waiting → queued` events and set those
    it does not claim to `queued` (SqliteWorkerStore.complete_and_claim does).
    `events`: the event rows are appended there, for the caller to insert (in this order)
    with its own in one statement, instead of being inserted here."""
    rows_out: list[tuple[Any, ...]] = [] if events is None else events
    changes: list[tuple[JobId, str, str]] = []
    pending: list[tuple[JobId, JobId]] = []  # (finished job, last dependent settled)
    if budget is not None and db.settle_backlog:  # else no row can be there (SqliteWorkerStore keeps the flag)
        pending += conn.execute("SELECT depends_on, after_job FROM release_backlog ORDER BY depends_on").fetchall()
        if pending:
            conn.execute("DELETE FROM release_backlog")
    finished = list(dict.fromkeys(finished))
    # One job (a chain's step): its dependents are read next anyway; many: one probe finds those that have any.
    pending += [(job_id, 0) for job_id in (finished if len(finished) == 1 else _with_dependents(conn, finished))]
    left = budget if budget is not None else None
    leftover: list[tuple[JobId, JobId]] = []
    index = 0
    while index < len(pending):
        parent, cursor = pending[index]
        index += 1
        limit = _UNLIMITED if left is None else left
        if limit <= 0:
            leftover.append((parent, cursor))
            continue
        known = states.get(parent) if states else None
        read: list[tuple] | None = None  # a succeeded parent's dependents, read with what `hold` needs
        if hold is not None and known == JobState.SUCCEEDED:
            read = _fetch(conn, _CHILDREN_RELEASABLE, [now, parent, cursor, limit])
            children = [row[0] for row in read]
        else:
            children = [row[0] for row in conn.execute(
                "SELECT job_id FROM job_dependencies WHERE depends_on = ? AND job_id > ? ORDER BY job_id LIMIT ?",
                (parent, cursor, limit))]  # fmt: skip
        if not children:
            continue
        if left is not None:
            left -= len(children)
        if len(children) == limit:
            (leftover if left is not None else pending).append((parent, children[-1]))
        marks = ", ".join("?" * len(children))
        state = (known,) if known is not None else conn.execute("SELECT state FROM jobs WHERE id = ?", (parent,)).fetchone()
        if state is not None and state[0] in _ENDED_BADLY:
            error = blocking_message(parent, state[0])
            rows = _fetch(conn, _CANCEL.format(marks=marks), [now, error, *children, parent])
            rows_out += [(job_id, now, source, "waiting", "cancelled", error) for job_id, _ in rows]
            changes.extend((job_id, queue, JobState.CANCELLED.value) for job_id, queue in rows)
            pending.extend((job_id, 0) for job_id in _with_dependents(conn, [job_id for job_id, _ in rows]))
        to_release = children
        if hold is not None:
            to_release = []
            if read is None:
                read = [(*row, True) for row in _fetch(conn, _RELEASABLE.format(marks=marks), [now, *children])]
            for job_id, queue, priority, job_type, later, sound, releasable in read:
                if not releasable:
                    continue
                if sound and not later:
                    hold.append((job_id, queue, priority, job_type))
                    changes.append((job_id, queue, JobState.QUEUED.value))
                else:
                    to_release.append(job_id)
        released = _fetch(conn, _RELEASE.format(marks=", ".join("?" * len(to_release))), [now, *to_release]) if to_release else []
        if released:
            rows_out += [(job_id, now, source, "waiting", new, RELEASED_MESSAGE) for job_id, _, new in released]
            changes.extend(released)
    if budget is not None:
        db.settle_backlog = bool(leftover)  # the engine's hint (settling_pending); the table is the truth
    if leftover:
        conn.executemany("INSERT INTO release_backlog (depends_on, after_job) VALUES (?, ?) ON CONFLICT (depends_on)"
                         " DO UPDATE SET after_job = excluded.after_job", leftover)  # fmt: skip
    if events is None and rows_out:
        conn.executemany("INSERT INTO events (job_id, at, source, old_state, new_state, message) VALUES (?, ?, ?, ?, ?, ?)",
                         rows_out)  # fmt: skip
    if changes:
        db.note(changes)
    return changes


def _with_dependents(conn: sqlite3.Connection, ids: list[JobId]) -> list[JobId]:
    """Those of `ids` that some job runs after (usually none: one indexed probe per chunk)."""
    found: list[JobId] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        found += [row[0] for row in conn.execute(
            f"SELECT DISTINCT depends_on FROM job_dependencies WHERE depends_on IN ({', '.join('?' * len(chunk))})", chunk)]
    return found


def _fetch(conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[tuple]:
    cursor = conn.execute(sql, params)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


def descendants(conn: sqlite3.Connection, job_id: JobId, limit: int = 100_000) -> list[JobId]:
    """Every job that runs after `job_id`, directly or not, in id (topological) order."""
    rows = conn.execute(
        "WITH RECURSIVE down (id) AS (SELECT job_id FROM job_dependencies WHERE depends_on = ?"
        " UNION SELECT d.job_id FROM job_dependencies d JOIN down ON d.depends_on = down.id)"
        " SELECT id FROM down ORDER BY id LIMIT ?",
        (job_id, limit),
    )
    return [row[0] for row in rows]


def revive_dependents(db: SqliteDatabase, conn: sqlite3.Connection, job_id: JobId, source: str,
                      now: float) -> list[tuple[JobId, str, str]]:  # fmt: skip
    """After `job_id` is retried: the dependents a failure of it (or of one of them) cancelled
    go back to `waiting`, unless another dependency of theirs still blocks them."""
    revived: set[JobId] = {job_id}
    changes: list[tuple[JobId, str, str]] = []
    for child in descendants(conn, job_id):
        row = conn.execute("SELECT state, error, queue FROM jobs WHERE id = ?", (child,)).fetchone()
        if row is None or row[0] != JobState.CANCELLED or not (row[1] or "").startswith("dependency "):
            continue
        edges = conn.execute(
            "SELECT d.depends_on, d.policy, p.state FROM job_dependencies d LEFT JOIN jobs p ON p.id = d.depends_on"
            " WHERE d.job_id = ?", (child,)
        ).fetchall()  # fmt: skip
        if any(dep not in revived and state is not None and blocks(policy, state) for dep, policy, state in edges):
            continue
        conn.execute(
            "UPDATE jobs SET state = 'waiting', attempts = 0, result = NULL, error = NULL, traceback = NULL, progress = NULL,"
            " progress_message = '', started_at = NULL, finished_at = NULL, cancel_requested = 0 WHERE id = ?",
            (child,),
        )
        db.event(conn, child, source, "cancelled", "waiting", f"retry of {job_id} with its dependents", at=now)
        revived.add(child)
        changes.append((child, row[2], JobState.WAITING.value))
    if changes:
        db.note(changes)
    return changes


def graph(conn: sqlite3.Connection, job_id: JobId, limit: int = 500) -> dict[str, Any]:
    """The pipeline around `job_id`: every job linked to it through dependencies, either way
    (at most `limit`), and the edges between them. For the pipeline view and `get`."""
    ids = [row[0] for row in conn.execute(
        "WITH RECURSIVE linked (id) AS (SELECT ? UNION"
        " SELECT d.job_id FROM job_dependencies d JOIN linked ON d.depends_on = linked.id UNION"
        " SELECT d.depends_on FROM job_dependencies d JOIN linked ON d.job_id = linked.id)"
        " SELECT id FROM linked LIMIT ?", (job_id, limit + 1)
    )]  # fmt: skip
    truncated = len(ids) > limit
    ids = sorted(ids[:limit])
    nodes, edges = [], []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        nodes.extend(dict(zip(("id", "type", "state", "progress", "queue"), row, strict=True)) for row in conn.execute(
            f"SELECT id, type, state, progress, queue FROM jobs WHERE id IN ({marks}) ORDER BY id", chunk))  # fmt: skip
        edges.extend({"from": dep, "to": job, "policy": policy} for job, dep, policy in conn.execute(
            f"SELECT job_id, depends_on, policy FROM job_dependencies WHERE job_id IN ({marks})", chunk))  # fmt: skip
    known = {node["id"] for node in nodes}
    edges = [edge for edge in edges if edge["from"] in known and edge["to"] in known]
    return {"nodes": nodes, "edges": edges, "truncated": truncated}


def neighbours(conn: sqlite3.Connection, job_id: JobId, limit: int = 1000) -> dict[str, list[dict[str, Any]]]:
    """A job's direct dependencies (upstream) and dependents (downstream), with their states."""
    columns = ("id", "type", "state", "progress", "policy")
    upstream = [dict(zip(columns, row, strict=True)) for row in conn.execute(
        "SELECT p.id, p.type, p.state, p.progress, d.policy FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on"
        " WHERE d.job_id = ? ORDER BY p.id LIMIT ?", (job_id, limit))]  # fmt: skip
    downstream = [dict(zip(columns, row, strict=True)) for row in conn.execute(
        "SELECT c.id, c.type, c.state, c.progress, d.policy FROM job_dependencies d JOIN jobs c ON c.id = d.job_id"
        " WHERE d.depends_on = ? ORDER BY c.id LIMIT ?", (job_id, limit))]  # fmt: skip
    return {"upstream": upstream, "downstream": downstream}
