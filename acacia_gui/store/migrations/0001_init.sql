-- Acacia schema v1. Portable SQL where it costs nothing (a PostgreSQL store may follow).
CREATE TABLE queues (
    name        TEXT PRIMARY KEY,
    concurrency INTEGER NOT NULL DEFAULT 0 CHECK (concurrency >= 0),  -- 0: only the worker's limit
    paused      INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    created_at  REAL NOT NULL
);

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    type             TEXT NOT NULL CHECK (length(type) BETWEEN 1 AND 200),
    queue            TEXT NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 0,
    state            TEXT NOT NULL CHECK (state IN ('queued', 'scheduled', 'running', 'succeeded',
                                                    'failed', 'cancelled', 'interrupted')),
    payload          TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     INTEGER NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
    run_at           REAL NOT NULL,
    timeout          REAL CHECK (timeout IS NULL OR timeout > 0),
    progress         REAL CHECK (progress IS NULL OR (progress >= 0 AND progress <= 1)),
    progress_message TEXT NOT NULL DEFAULT '',
    result           TEXT,
    error            TEXT,
    traceback        TEXT,
    created_at       REAL NOT NULL,
    started_at       REAL,
    finished_at      REAL,
    instance_id      TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    CHECK ((state = 'running') = (instance_id IS NOT NULL))
);
-- Claiming: the best queued job of a queue, by priority then age.
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, id) WHERE state = 'queued';
CREATE INDEX jobs_due ON jobs (run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_running ON jobs (instance_id, queue) WHERE state = 'running';
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- Every state change, with who caused it.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    job_id    INTEGER NOT NULL,
    at        REAL NOT NULL,
    source    TEXT NOT NULL CHECK (source IN ('api', 'cli', 'socket', 'gui', 'worker', 'recovery')),
    old_state TEXT,
    new_state TEXT NOT NULL,
    message   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_job ON events (job_id, id);

-- What a handler logged while it ran.
CREATE TABLE job_logs (
    id      INTEGER PRIMARY KEY,
    job_id  INTEGER NOT NULL,
    at      REAL NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_logs_job ON job_logs (job_id, id);

-- Live app instances; a running job belongs to one of them.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    pid          INTEGER NOT NULL,
    hostname     TEXT NOT NULL,
    started_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);

INSERT INTO queues (name, concurrency, paused, created_at) VALUES ('default', 0, 0, 0);
