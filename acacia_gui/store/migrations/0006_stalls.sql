-- Acacia schema v6: running jobs that went silent (a handler's stall_after).
--
-- One row per stalled job, written by the engine that runs it when it has seen no progress
-- and no log line for stall_after seconds, deleted when the job reports again, is extended
-- or its run ends. A row means something only while it is true: readers count it only
-- while its job is `running` and was stalled during this run (since >= started_at), so a
-- row left behind by an app that died, or by an earlier attempt, is never shown.
-- (No semicolon may appear inside a statement of this file: _split_sql splits on them.)

CREATE TABLE job_stalls (
    job_id      INTEGER PRIMARY KEY,
    since       REAL NOT NULL CHECK (typeof(since) = 'real'),
    stall_after REAL NOT NULL CHECK (typeof(stall_after) = 'real' AND stall_after > 0)
)
