-- Acacia schema v4: the files and folders a job registered (job.add_artifact).
--
-- One row per (job, path): a path registered again (a retry rewrote it) is updated, not
-- repeated. Rows are written as they are added, so a crash of the app loses none, and
-- are deleted with their job. The files themselves live in <data dir>/outputs/<job id>/
-- (or wherever the handler put them) and are deleted only when the user asks.
-- (No semicolon may appear inside a statement of this file: _split_sql splits on them.)

CREATE TABLE job_artifacts (
    id      INTEGER PRIMARY KEY,
    job_id  INTEGER NOT NULL,
    path    TEXT NOT NULL CHECK (typeof(path) = 'text' AND length(path) BETWEEN 1 AND 4096),
    label   TEXT CHECK (label IS NULL OR (typeof(label) = 'text' AND length(label) <= 200)),
    size    INTEGER NOT NULL CHECK (typeof(size) = 'integer' AND size >= 0),
    kind    TEXT NOT NULL CHECK (typeof(kind) = 'text' AND length(kind) BETWEEN 1 AND 16),
    at      REAL NOT NULL CHECK (typeof(at) = 'real')
);

-- Also the index by job (its first column).
CREATE UNIQUE INDEX job_artifacts_job ON job_artifacts (job_id, path);
