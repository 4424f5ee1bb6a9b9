-- Schema 6: a transaction that wrote nothing is not counted in acacia_commit_counter.
--
-- Why: the counter's triggers are statement triggers, which fire even when their statement
-- matched no row. An empty claim (the usual lot of every idle instance but one when a NOTIFY
-- wakes them all: the job is locked by the one that won, SKIP LOCKED skips it) then wrote the
-- counter: a WAL record and a durable commit for nothing, and a data_version change that made
-- every window and instance read the store again. A transaction that changed a row has a
-- transaction id by the time the statement's AFTER trigger runs; one that only read has none
-- (pg_current_xact_id_if_assigned, PostgreSQL 13+), and writes nothing now.
-- Adds no table, so no commit-counter trigger (see the end of 0001_init.sql).

CREATE OR REPLACE FUNCTION acacia_count_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_current_xact_id_if_assigned() IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO acacia_commit_counter AS c (session, commits, xact) VALUES (pg_backend_pid(), 1, pg_current_xact_id())
    ON CONFLICT (session) DO UPDATE SET commits = c.commits + 1, xact = excluded.xact
    WHERE c.xact <> excluded.xact;
    RETURN NULL;
END
$$;
