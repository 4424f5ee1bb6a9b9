-- Schema 4: jobs.ran_on, "host:pid" of the instance that last claimed the job (SQLite's schema 10).
--
-- Written by the claim (worker.py, _CLAIM_SET: the UPDATE that makes a job `running`) and never
-- cleared: instance_id names the owner only while the job runs, ran_on names the instance that
-- ran it after it ended (a retried job shows its last claimer). NULL for a job never claimed and
-- for every row written before this script. No CHECK: SQLite's rule (text or NULL) is the type.
-- Adds no table, so no commit-counter trigger (see the end of 0001_init.sql); adding a nullable
-- column without a default rewrites no row.

ALTER TABLE jobs ADD COLUMN ran_on text;
ALTER TABLE jobs_quarantine ADD COLUMN ran_on text;
