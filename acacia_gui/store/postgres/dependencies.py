"""Job dependencies on PostgreSQL: the edges, what a new job's state is, and settling dependents.

The port of store/sqlite_dependencies.py, function for function (same names and
signatures, so postgres/jobs.py and postgres/worker.py use them as the SQLite parts use
theirs). A job with `after` is `waiting` until its dependencies are settled; settling
happens in the transaction that finishes a dependency.

What differs from SQLite, and why: SQLite runs one writer at a time, PostgreSQL runs
several at once (READ COMMITTED), so two rules keep a dependent from being forgotten:

- Two transactions that each finish one of a dependent's two dependencies would each see
  the other's dependency unfinished (not committed yet), and neither would release it.
  So `settle` locks the dependents it looks at (`FOR UPDATE`, in id order) before the
  statement that checks their dependencies: the second one waits for the first to commit,
  and its check (a new statement, a new snapshot) then sees both dependencies finished.
- A job enqueued after a dependency that is finishing at that moment: `states_of` reads
  the dependencies `FOR SHARE`, which waits for a finishing transaction to commit (then
  the new job sees the final state) or makes the finishing one wait for the enqueue to
  commit (then its settle sees the new edge).

Ids give a topological order: a dependency always exists before its dependent.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ...core.definitions import FINAL_STATES, AfterPolicy, JobState
from ...core.job import JobId
from .rowsets import rows_param, rowset

if TYPE_CHECKING:
    import psycopg

    from .db import PostgresDatabase

_FINAL = "(" + ", ".join(f"'{s.value}'" for s in sorted(FINAL_STATES)) + ")"
_ENDED_BADLY = frozenset(state.value for state in FINAL_STATES - {JobState.SUCCEEDED})
_CHUNK = 5000  # ids per statement: `= ANY(array)` has no parameter limit, this only bounds one statement

# A dependency `p` (edge `d`) still holds its dependent back.
UNSATISFIED = f"NOT (p.state = 'succeeded' OR (d.policy = 'finished' AND p.state IN {_FINAL}))"

# Lock these waiting dependents before looking at their dependencies (see the module's docstring).
_LOCK = "SELECT id FROM jobs WHERE id = ANY(%s::bigint[]) AND state = 'waiting' ORDER BY id FOR UPDATE"

# These waiting dependents, if nothing holds them back any more → queued (or scheduled while
# their delay runs). One statement per chunk of dependents.
_RELEASE = (
    "UPDATE jobs SET state = CASE WHEN run_at > %s THEN 'scheduled' ELSE 'queued' END"
    " WHERE id = ANY(%s::bigint[]) AND state = 'waiting'"
    " AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on"
    f" WHERE d.job_id = jobs.id AND {UNSATISFIED})"
    " RETURNING id, queue, state"
)

# The same dependents, read instead of released, for the engine's claim to take straight from
# `waiting` (see settle's `hold`), with whether the delay still runs. (SQLite also asks whether
# the row is sound: here the schema's CHECKs always hold.)
_RELEASABLE = (
    "SELECT id, queue, priority, type, run_at > %s FROM jobs WHERE id = ANY(%s::bigint[]) AND state = 'waiting'"
    " AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on"
    f" WHERE d.job_id = jobs.id AND {UNSATISFIED}) ORDER BY id"
)
RELEASED_MESSAGE = "its dependencies are done"

# These waiting dependents of a job that ended badly, under `success` → cancelled, naming it.
_CANCEL = (
    "UPDATE jobs SET state = 'cancelled', finished_at = %s, error = %s"
    " WHERE id = ANY(%s::bigint[]) AND state = 'waiting'"
    " AND EXISTS (SELECT 1 FROM job_dependencies d WHERE d.job_id = jobs.id AND d.depends_on = %s AND d.policy = 'success')"
    " RETURNING id, queue"
)

# Any number of events in one statement (one round trip, however many).
_INSERT_EVENTS = (
    "INSERT INTO events (job_id, at, source, old_state, new_state, message)"
    " SELECT job_id, at, source, old_state, new_state, message FROM "
    + rowset("e", (("job_id", "bigint"), ("at", "float8"), ("source", "text"), ("old_state", "text"),
                   ("new_state", "text"), ("message", "text")))
    + " ORDER BY e.ord"  # ids in the rows' order: a job's events in order
)

# The engine settles at most this many dependents in one transaction (see sqlite_dependencies):
# the rest are settled by the next transactions, from release_backlog.
ENGINE_SETTLE_BUDGET = 500
# The backlog is read by the engine that wrote it (PostgresDatabase.settle_backlog says so) and,
# for one another instance left behind (it died mid fan-out), by every engine this often: an
# empty table's DELETE would otherwise cost each engine transaction a round trip.
BACKLOG_LOOK_EVERY = 2.0  # seconds
_UNLIMITED = 100_000  # dependents per statement group when there is no budget


def backlog_look_due(db: PostgresDatabase) -> bool:
    """Whether the engine's next settle reads release_backlog (its own backlog, or the periodic look)."""
    return db.settle_backlog or time.monotonic() >= db.backlog_look_due


def blocking_message(dependency: JobId, state: str) -> str:
    """Why a `success` dependent is cancelled: the words _CANCEL writes."""
    verb = {"failed": "failed", "cancelled": "was cancelled"}.get(state, "was interrupted")
    return f"dependency {dependency} {verb}"


def satisfied(policy: str, state: str) -> bool:
    return state == JobState.SUCCEEDED or (policy == AfterPolicy.FINISHED and state in FINAL_STATES)


def blocks(policy: str, state: str) -> bool:
    """A dependency in `state` means its dependent can never run under `policy`."""
    return policy == AfterPolicy.SUCCESS and state in FINAL_STATES and state != JobState.SUCCEEDED


def insert_events(conn: psycopg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Events as (job_id, at, source, old_state, new_state, message) rows, in one statement (in order)."""
    if rows:
        conn.execute(_INSERT_EVENTS, (rows_param((j, float(at), s, o, n, m) for j, at, s, o, n, m in rows),))


def add_edges(conn: psycopg.Connection, job_id: JobId, dependencies: Iterable[JobId], policy: str) -> None:
    rows = [(job_id, dep, policy) for dep in dependencies]
    if rows:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO job_dependencies (job_id, depends_on, policy) VALUES (%s, %s, %s)"
                            " ON CONFLICT DO NOTHING", rows)  # fmt: skip


def states_of(conn: psycopg.Connection, ids: Sequence[JobId]) -> dict[JobId, str]:
    """The states of these jobs, read `FOR SHARE`: inside an enqueue's transaction, a dependency
    being finished by another transaction is read once that one commits (see the docstring)."""
    found: dict[JobId, str] = {}
    ids = sorted(set(ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        found.update(conn.execute("SELECT id, state FROM jobs WHERE id = ANY(%s::bigint[]) ORDER BY id FOR SHARE",
                                  (chunk,)).fetchall())  # fmt: skip
    return found


def settle(db: PostgresDatabase, conn: psycopg.Connection, finished: Sequence[JobId], source: str,
           now: float, budget: int | None = None, states: dict[JobId, str] | None = None,
           hold: list[tuple[JobId, str, int, str]] | None = None) -> list[tuple[JobId, str, str]]:  # fmt: skip
    """Jobs that just reached a final state: release their dependents that nothing else
    holds back, cancel their `success` dependents if they ended badly, and go on from
    those (transitively). Inside the caller's transaction; events are written and the
    changes noted (db.note) for announcing once it commits. Returns them too.

    `budget`: settle at most about this many dependents now, going on with what
    release_backlog holds from earlier transactions first; what is left is written there.
    `states`: the final states of `finished`, when the caller knows them (one read less each).
    `hold`: the engine's claim takes released dependents straight from `waiting`: those due
    now are not written here but appended to `hold` as (id, queue, priority, type) and noted
    as `queued`; the caller must, in this transaction, write their `waiting → queued` events
    and set those it does not claim to `queued` (PostgresWorkerStore.complete_and_claim does)."""
    changes: list[tuple[JobId, str, str]] = []
    pending: list[tuple[JobId, JobId]] = []  # (finished job, last dependent settled)
    if budget is not None and backlog_look_due(db):
        db.backlog_look_due = time.monotonic() + BACKLOG_LOOK_EVERY
        # Taken whole: a second engine doing the same waits for this transaction, then finds none.
        pending += sorted(conn.execute("DELETE FROM release_backlog RETURNING depends_on, after_job").fetchall())
    finished = list(dict.fromkeys(finished))
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
        children = [row[0] for row in conn.execute(
            "SELECT job_id FROM job_dependencies WHERE depends_on = %s AND job_id > %s ORDER BY job_id LIMIT %s",
            (parent, cursor, limit))]  # fmt: skip
        if not children:
            continue
        if left is not None:
            left -= len(children)
        if len(children) == limit:
            (leftover if left is not None else pending).append((parent, children[-1]))
        conn.execute(_LOCK, (children,)).fetchall()
        known = states.get(parent) if states else None
        state = (known,) if known is not None else conn.execute("SELECT state FROM jobs WHERE id = %s", (parent,)).fetchone()
        if state is not None and state[0] in _ENDED_BADLY:
            error = blocking_message(parent, state[0])
            rows = conn.execute(_CANCEL, (now, error, children, parent)).fetchall()
            insert_events(conn, [(job_id, now, source, "waiting", "cancelled", error) for job_id, _ in rows])
            changes.extend((job_id, queue, JobState.CANCELLED.value) for job_id, queue in rows)
            pending.extend((job_id, 0) for job_id in _with_dependents(conn, [job_id for job_id, _ in rows]))
        to_release = children
        if hold is not None:
            to_release = []
            for job_id, queue, priority, job_type, later in conn.execute(_RELEASABLE, (now, children)).fetchall():
                if not later:
                    hold.append((job_id, queue, priority, job_type))
                    changes.append((job_id, queue, JobState.QUEUED.value))
                else:
                    to_release.append(job_id)
        released = conn.execute(_RELEASE, (now, to_release)).fetchall() if to_release else []
        if released:
            released.sort()
            insert_events(conn, [(job_id, now, source, "waiting", new, RELEASED_MESSAGE) for job_id, _, new in released])
            changes.extend(released)
    if budget is not None:
        db.settle_backlog = bool(leftover)  # the engine's hint (settling_pending); the table is the truth
    if leftover:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO release_backlog (depends_on, after_job) VALUES (%s, %s) ON CONFLICT (depends_on)"
                            " DO UPDATE SET after_job = excluded.after_job", leftover)  # fmt: skip
    if changes:
        db.note(changes)
    return changes


def _with_dependents(conn: psycopg.Connection, ids: list[JobId]) -> list[JobId]:
    """Those of `ids` that some job runs after (usually none: one indexed probe per chunk)."""
    found: list[JobId] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        found += [row[0] for row in conn.execute(
            "SELECT DISTINCT depends_on FROM job_dependencies WHERE depends_on = ANY(%s::bigint[]) ORDER BY depends_on",
            (chunk,))]  # fmt: skip
    return found


def descendants(conn: psycopg.Connection, job_id: JobId, limit: int = 100_000) -> list[JobId]:
    """Every job that runs after `job_id`, directly or not, in id (topological) order."""
    rows = conn.execute(
        "WITH RECURSIVE down (id) AS (SELECT job_id FROM job_dependencies WHERE depends_on = %s"
        " UNION SELECT d.job_id FROM job_dependencies d JOIN down ON d.depends_on = down.id)"
        " SELECT id FROM down ORDER BY id LIMIT %s",
        (job_id, limit),
    )
    return [row[0] for row in rows]


def revive_dependents(db: PostgresDatabase, conn: psycopg.Connection, job_id: JobId, source: str,
                      now: float) -> list[tuple[JobId, str, str]]:  # fmt: skip
    """After `job_id` is retried: the dependents a failure of it (or of one of them) cancelled
    go back to `waiting`, unless another dependency of theirs still blocks them."""
    revived: set[JobId] = {job_id}
    changes: list[tuple[JobId, str, str]] = []
    for child in descendants(conn, job_id):
        row = conn.execute("SELECT state, error, queue FROM jobs WHERE id = %s FOR UPDATE", (child,)).fetchone()
        if row is None or row[0] != JobState.CANCELLED or not (row[1] or "").startswith("dependency "):
            continue
        edges = conn.execute(
            "SELECT d.depends_on, d.policy, p.state FROM job_dependencies d LEFT JOIN jobs p ON p.id = d.depends_on"
            " WHERE d.job_id = %s", (child,)
        ).fetchall()  # fmt: skip
        if any(dep not in revived and state is not None and blocks(policy, state) for dep, policy, state in edges):
            continue
        conn.execute(
            "UPDATE jobs SET state = 'waiting', attempts = 0, result = NULL, error = NULL, traceback = NULL, progress = NULL,"
            " progress_message = '', started_at = NULL, finished_at = NULL, cancel_requested = 0 WHERE id = %s",
            (child,),
        )
        db.event(conn, child, source, "cancelled", "waiting", f"retry of {job_id} with its dependents", at=now)
        revived.add(child)
        changes.append((child, row[2], JobState.WAITING.value))
    if changes:
        db.note(changes)
    return changes


def graph(conn: psycopg.Connection, job_id: JobId, limit: int = 500) -> dict[str, Any]:
    """The pipeline around `job_id`: every job linked to it through dependencies, either way
    (at most `limit`), and the edges between them. For the pipeline view and `get`."""
    ids = [row[0] for row in conn.execute(
        "WITH RECURSIVE linked (id) AS (SELECT %s::bigint UNION SELECT n.id FROM linked, LATERAL"
        " (SELECT d.job_id AS id FROM job_dependencies d WHERE d.depends_on = linked.id UNION ALL"
        " SELECT d.depends_on FROM job_dependencies d WHERE d.job_id = linked.id) n)"
        " SELECT id FROM linked LIMIT %s", (job_id, limit + 1)
    )]  # fmt: skip
    truncated = len(ids) > limit
    ids = sorted(ids[:limit])
    nodes, edges = [], []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        nodes.extend(dict(zip(("id", "type", "state", "progress", "queue"), row, strict=True)) for row in conn.execute(
            "SELECT id, type, state, progress, queue FROM jobs WHERE id = ANY(%s::bigint[]) ORDER BY id", (chunk,)))  # fmt: skip
        edges.extend({"from": dep, "to": job, "policy": policy} for job, dep, policy in conn.execute(
            "SELECT job_id, depends_on, policy FROM job_dependencies WHERE job_id = ANY(%s::bigint[])"
            " ORDER BY job_id, depends_on", (chunk,)))  # fmt: skip
    known = {node["id"] for node in nodes}
    edges = [edge for edge in edges if edge["from"] in known and edge["to"] in known]
    return {"nodes": nodes, "edges": edges, "truncated": truncated}


def neighbours(conn: psycopg.Connection, job_id: JobId, limit: int = 1000) -> dict[str, list[dict[str, Any]]]:
    """A job's direct dependencies (upstream) and dependents (downstream), with their states."""
    columns = ("id", "type", "state", "progress", "policy")
    upstream = [dict(zip(columns, row, strict=True)) for row in conn.execute(
        "SELECT p.id, p.type, p.state, p.progress, d.policy FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on"
        " WHERE d.job_id = %s ORDER BY p.id LIMIT %s", (job_id, limit))]  # fmt: skip
    downstream = [dict(zip(columns, row, strict=True)) for row in conn.execute(
        "SELECT c.id, c.type, c.state, c.progress, d.policy FROM job_dependencies d JOIN jobs c ON c.id = d.job_id"
        " WHERE d.depends_on = %s ORDER BY c.id LIMIT %s", (job_id, limit))]  # fmt: skip
    return {"upstream": upstream, "downstream": downstream}
