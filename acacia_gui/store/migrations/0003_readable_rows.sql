-- Acacia schema v3: no row can jam the worker.
--
-- Every column of `jobs` gets a CHECK that keeps the row readable by Acacia: the type and
-- queue in their name alphabets (so they are plain ASCII), numbers stored as numbers,
-- JSON stored as valid JSON text. SQLite cannot add a CHECK to a table, so the table is
-- rebuilt (create, copy, drop, rename, indexes again) inside the migration's transaction.
--
-- A row that already breaks a rule does not stop the upgrade. It is set aside:
--   * its original values are copied verbatim into `jobs_quarantine` (untyped columns),
--   * the job stays in `jobs` as `failed`, each broken column reset (payload to null,
--     a number to its default...) and an error naming the broken columns,
--   * an event (source `recovery`) records it.
-- The worker does the same at run time to a row that another program breaks later with
-- the CHECKs switched off (store/rows.py: COLUMN_RULES are these CHECKs, word for word).
--
-- Also: a job whose queue has no `queues` row gets one (default settings).
-- (No semicolon may appear inside a statement of this file: _split_sql splits on them.)

CREATE TABLE jobs_quarantine (
    quarantine_id    INTEGER PRIMARY KEY,
    quarantined_at   REAL NOT NULL,
    reason           TEXT NOT NULL,
    id, type, queue, priority, state, payload, attempts, max_attempts, run_at, timeout, progress,
    progress_message, result, error, traceback, created_at, started_at, finished_at, instance_id,
    cancel_requested, interruptions, cancel_grace, memory_limit, cpu_time_limit, nice
);
CREATE INDEX jobs_quarantine_job ON jobs_quarantine (id);

CREATE TABLE jobs_v3 (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    type             TEXT NOT NULL CHECK (typeof(type) = 'text' AND length(type) BETWEEN 1 AND 200 AND type NOT GLOB '*[^A-Za-z0-9_.:/-]*'),
    queue            TEXT NOT NULL CHECK (typeof(queue) = 'text' AND length(queue) BETWEEN 1 AND 64 AND queue NOT GLOB '*[^A-Za-z0-9_.-]*'),
    priority         INTEGER NOT NULL DEFAULT 0 CHECK (typeof(priority) = 'integer'),
    state            TEXT NOT NULL CHECK (state IN ('queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    payload          TEXT NOT NULL CHECK (typeof(payload) = 'text' AND json_valid(payload)),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (typeof(attempts) = 'integer' AND attempts >= 0),
    max_attempts     INTEGER NOT NULL DEFAULT 1 CHECK (typeof(max_attempts) = 'integer' AND max_attempts >= 1),
    run_at           REAL NOT NULL CHECK (typeof(run_at) = 'real'),
    timeout          REAL CHECK (timeout IS NULL OR (typeof(timeout) = 'real' AND timeout > 0)),
    progress         REAL CHECK (progress IS NULL OR (typeof(progress) = 'real' AND progress BETWEEN 0 AND 1)),
    progress_message TEXT NOT NULL DEFAULT '' CHECK (typeof(progress_message) = 'text'),
    result           TEXT CHECK (result IS NULL OR (typeof(result) = 'text' AND json_valid(result))),
    error            TEXT CHECK (error IS NULL OR typeof(error) = 'text'),
    traceback        TEXT CHECK (traceback IS NULL OR typeof(traceback) = 'text'),
    created_at       REAL NOT NULL CHECK (typeof(created_at) = 'real'),
    started_at       REAL CHECK (started_at IS NULL OR typeof(started_at) = 'real'),
    finished_at      REAL CHECK (finished_at IS NULL OR typeof(finished_at) = 'real'),
    instance_id      TEXT CHECK (instance_id IS NULL OR typeof(instance_id) = 'text'),
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    interruptions    INTEGER NOT NULL DEFAULT 0 CHECK (typeof(interruptions) = 'integer' AND interruptions >= 0),
    cancel_grace     REAL CHECK (cancel_grace IS NULL OR (typeof(cancel_grace) = 'real' AND cancel_grace >= 0)),
    memory_limit     INTEGER CHECK (memory_limit IS NULL OR (typeof(memory_limit) = 'integer' AND memory_limit > 0)),
    cpu_time_limit   REAL CHECK (cpu_time_limit IS NULL OR (typeof(cpu_time_limit) = 'real' AND cpu_time_limit > 0)),
    nice             INTEGER CHECK (nice IS NULL OR (typeof(nice) = 'integer' AND nice BETWEEN 0 AND 19)),
    CHECK ((state = 'running') = (instance_id IS NOT NULL))
);

-- The rows that break a rule, each with the list of what it breaks (' payload, priority, ').
CREATE TEMP TABLE broken_rows AS SELECT id, problems FROM (SELECT id, ' '
    || CASE WHEN NOT (typeof(type) = 'text' AND length(type) BETWEEN 1 AND 200 AND type NOT GLOB '*[^A-Za-z0-9_.:/-]*') THEN 'type, ' ELSE '' END
    || CASE WHEN NOT (typeof(queue) = 'text' AND length(queue) BETWEEN 1 AND 64 AND queue NOT GLOB '*[^A-Za-z0-9_.-]*') THEN 'queue, ' ELSE '' END
    || CASE WHEN NOT (typeof(priority) = 'integer') THEN 'priority, ' ELSE '' END
    || CASE WHEN NOT (state IN ('queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')) THEN 'state, ' ELSE '' END
    || CASE WHEN NOT (typeof(payload) = 'text' AND json_valid(payload)) THEN 'payload, ' ELSE '' END
    || CASE WHEN NOT (typeof(attempts) = 'integer' AND attempts >= 0) THEN 'attempts, ' ELSE '' END
    || CASE WHEN NOT (typeof(max_attempts) = 'integer' AND max_attempts >= 1) THEN 'max_attempts, ' ELSE '' END
    || CASE WHEN NOT (typeof(run_at) = 'real') THEN 'run_at, ' ELSE '' END
    || CASE WHEN NOT (timeout IS NULL OR (typeof(timeout) = 'real' AND timeout > 0)) THEN 'timeout, ' ELSE '' END
    || CASE WHEN NOT (progress IS NULL OR (typeof(progress) = 'real' AND progress BETWEEN 0 AND 1)) THEN 'progress, ' ELSE '' END
    || CASE WHEN NOT (typeof(progress_message) = 'text') THEN 'progress_message, ' ELSE '' END
    || CASE WHEN NOT (result IS NULL OR (typeof(result) = 'text' AND json_valid(result))) THEN 'result, ' ELSE '' END
    || CASE WHEN NOT (error IS NULL OR typeof(error) = 'text') THEN 'error, ' ELSE '' END
    || CASE WHEN NOT (traceback IS NULL OR typeof(traceback) = 'text') THEN 'traceback, ' ELSE '' END
    || CASE WHEN NOT (typeof(created_at) = 'real') THEN 'created_at, ' ELSE '' END
    || CASE WHEN NOT (started_at IS NULL OR typeof(started_at) = 'real') THEN 'started_at, ' ELSE '' END
    || CASE WHEN NOT (finished_at IS NULL OR typeof(finished_at) = 'real') THEN 'finished_at, ' ELSE '' END
    || CASE WHEN NOT (instance_id IS NULL OR typeof(instance_id) = 'text') THEN 'instance_id, ' ELSE '' END
    || CASE WHEN NOT (cancel_requested IN (0, 1)) THEN 'cancel_requested, ' ELSE '' END
    || CASE WHEN NOT (typeof(interruptions) = 'integer' AND interruptions >= 0) THEN 'interruptions, ' ELSE '' END
    || CASE WHEN NOT (cancel_grace IS NULL OR (typeof(cancel_grace) = 'real' AND cancel_grace >= 0)) THEN 'cancel_grace, ' ELSE '' END
    || CASE WHEN NOT (memory_limit IS NULL OR (typeof(memory_limit) = 'integer' AND memory_limit > 0)) THEN 'memory_limit, ' ELSE '' END
    || CASE WHEN NOT (cpu_time_limit IS NULL OR (typeof(cpu_time_limit) = 'real' AND cpu_time_limit > 0)) THEN 'cpu_time_limit, ' ELSE '' END
    || CASE WHEN NOT (nice IS NULL OR (typeof(nice) = 'integer' AND nice BETWEEN 0 AND 19)) THEN 'nice, ' ELSE '' END
    || CASE WHEN NOT ((state = 'running') = (instance_id IS NOT NULL)) THEN 'owner (state and instance_id disagree), ' ELSE '' END
    AS problems FROM jobs) WHERE problems != ' ';

CREATE TEMP TABLE upgrade_time AS SELECT (julianday('now') - 2440587.5) * 86400.0 AS now;

INSERT INTO jobs_quarantine (quarantined_at, reason, id, type, queue, priority, state, payload, attempts, max_attempts,
    run_at, timeout, progress, progress_message, result, error, traceback, created_at, started_at, finished_at,
    instance_id, cancel_requested, interruptions, cancel_grace, memory_limit, cpu_time_limit, nice)
SELECT (SELECT now FROM upgrade_time), 'schema 3 upgrade: broken ' || rtrim(trim(b.problems), ','),
    j.id, j.type, j.queue, j.priority, j.state, j.payload, j.attempts, j.max_attempts, j.run_at, j.timeout, j.progress,
    j.progress_message, j.result, j.error, j.traceback, j.created_at, j.started_at, j.finished_at, j.instance_id,
    j.cancel_requested, j.interruptions, j.cancel_grace, j.memory_limit, j.cpu_time_limit, j.nice
FROM jobs j JOIN broken_rows b ON b.id = j.id;

INSERT INTO jobs_v3 (id, type, queue, priority, state, payload, attempts, max_attempts, run_at, timeout, progress,
    progress_message, result, error, traceback, created_at, started_at, finished_at, instance_id, cancel_requested,
    interruptions, cancel_grace, memory_limit, cpu_time_limit, nice)
SELECT id, type, queue, priority, state, payload, attempts, max_attempts, run_at, timeout, progress,
    progress_message, result, error, traceback, created_at, started_at, finished_at, instance_id, cancel_requested,
    interruptions, cancel_grace, memory_limit, cpu_time_limit, nice
FROM jobs WHERE id NOT IN (SELECT id FROM broken_rows);

INSERT INTO jobs_v3 (id, type, queue, priority, state, payload, attempts, max_attempts, run_at, timeout, progress,
    progress_message, result, error, traceback, created_at, started_at, finished_at, instance_id, cancel_requested,
    interruptions, cancel_grace, memory_limit, cpu_time_limit, nice)
SELECT j.id,
    CASE WHEN instr(b.problems, ' type,') THEN 'unreadable' ELSE j.type END,
    CASE WHEN instr(b.problems, ' queue,') THEN 'default' ELSE j.queue END,
    CASE WHEN instr(b.problems, ' priority,') THEN 0 ELSE j.priority END,
    'failed',
    CASE WHEN instr(b.problems, ' payload,') THEN 'null' ELSE j.payload END,
    CASE WHEN instr(b.problems, ' attempts,') THEN 0 ELSE j.attempts END,
    CASE WHEN instr(b.problems, ' max_attempts,') THEN 1 ELSE j.max_attempts END,
    CASE WHEN instr(b.problems, ' run_at,') THEN u.now ELSE j.run_at END,
    CASE WHEN instr(b.problems, ' timeout,') THEN NULL ELSE j.timeout END,
    CASE WHEN instr(b.problems, ' progress,') THEN NULL ELSE j.progress END,
    CASE WHEN instr(b.problems, ' progress_message,') THEN '' ELSE j.progress_message END,
    CASE WHEN instr(b.problems, ' result,') THEN NULL ELSE j.result END,
    'set aside by the upgrade to schema 3: its row was broken (' || rtrim(trim(b.problems), ',')
        || '). The broken values were reset (a payload to null) and the original row is in the table jobs_quarantine. '
        || 'Fix and retry it, or delete it.',
    CASE WHEN instr(b.problems, ' traceback,') THEN NULL ELSE j.traceback END,
    CASE WHEN instr(b.problems, ' created_at,') THEN u.now ELSE j.created_at END,
    CASE WHEN instr(b.problems, ' started_at,') THEN NULL ELSE j.started_at END,
    u.now,
    NULL,
    0,
    CASE WHEN instr(b.problems, ' interruptions,') THEN 0 ELSE j.interruptions END,
    CASE WHEN instr(b.problems, ' cancel_grace,') THEN NULL ELSE j.cancel_grace END,
    CASE WHEN instr(b.problems, ' memory_limit,') THEN NULL ELSE j.memory_limit END,
    CASE WHEN instr(b.problems, ' cpu_time_limit,') THEN NULL ELSE j.cpu_time_limit END,
    CASE WHEN instr(b.problems, ' nice,') THEN NULL ELSE j.nice END
FROM jobs j JOIN broken_rows b ON b.id = j.id JOIN upgrade_time u;

INSERT INTO events (job_id, at, source, old_state, new_state, message)
SELECT j.id, u.now, 'recovery',
    CASE WHEN instr(b.problems, ' state,') THEN NULL ELSE j.state END, 'failed',
    'set aside by the upgrade to schema 3: broken ' || rtrim(trim(b.problems), ',')
FROM jobs j JOIN broken_rows b ON b.id = j.id JOIN upgrade_time u;

-- AUTOINCREMENT: ids stay never reused (the old table's counter, not just its largest id).
INSERT INTO sqlite_sequence (name, seq) SELECT 'jobs_v3', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'jobs_v3');
UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0)) WHERE name = 'jobs_v3';

-- A view another program made on `jobs` must neither stop the rename (it names a table that
-- is briefly missing) nor be rewritten: the legacy rename leaves views as they are, and they
-- read the new `jobs`. (A trigger on `jobs` goes with the old table: Acacia makes none.)
PRAGMA legacy_alter_table = ON;
DROP TABLE jobs;
ALTER TABLE jobs_v3 RENAME TO jobs;
PRAGMA legacy_alter_table = OFF;
DROP TABLE temp.broken_rows;
DROP TABLE temp.upgrade_time;

-- The indexes of 0001, unchanged (dropped with the old table).
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, id) WHERE state = 'queued';
CREATE INDEX jobs_due ON jobs (run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_running ON jobs (instance_id, queue) WHERE state = 'running';
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

INSERT INTO queues (name, concurrency, paused, created_at)
SELECT DISTINCT queue, 0, 0, (julianday('now') - 2440587.5) * 86400.0 FROM jobs WHERE true
ON CONFLICT (name) DO NOTHING;
