-- Acacia schema v7: each job's last checkpoint (job.save_checkpoint), so a retry, a recovery
-- after a crash of the app or a manual retry resumes instead of redoing.
--
-- One row per job (the last value saved wins), written in its own short transaction the
-- moment the handler saves it, deleted with its job. `attempt` is the attempt that saved it.
-- (No semicolon may appear inside a statement of this file: _split_sql splits on them.)

CREATE TABLE job_checkpoints (
    job_id   INTEGER PRIMARY KEY,
    data     TEXT NOT NULL CHECK (json_valid(data)),
    saved_at REAL NOT NULL CHECK (typeof(saved_at) = 'real'),
    attempt  INTEGER NOT NULL CHECK (typeof(attempt) = 'integer')
)
