-- Wake-ups across instances (store/postgres/notify.py): a NOTIFY on channel `acacia_wake` whenever
-- work may have become claimable, so an idle instance claims at once instead of at its next poll.
--
-- Sent by triggers, so every path that makes a job claimable sends it, whichever part of the store
-- wrote it: an enqueue, a user's retry, a dependency released by settling, a delayed job or a retry
-- backoff promoted to `queued`, a job recovered from a dead instance or handed back by a stopping
-- one, a job moved to another queue; and a queue resumed, its concurrency changed, or a rate changed.
-- The payload is the queue's name ('' when any queue may be concerned): at most 64 bytes, far below
-- NOTIFY's 8,000. NOTIFY is transactional: it is sent inside the writing transaction and delivered
-- when it commits (a rolled-back write wakes no one), and the server folds identical notifications
-- of one transaction into one, so a batch of 30,000 jobs in one queue sends one.
--
-- Adds no table, so no commit-counter trigger (see the end of 0001_init.sql).

-- Inserted jobs: once per INSERT statement (a batch is one statement), one NOTIFY per queue.
CREATE OR REPLACE FUNCTION acacia_notify_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('acacia_wake', q.queue) FROM (SELECT DISTINCT queue FROM acacia_inserted WHERE state = 'queued') AS q;
    RETURN NULL;
END
$$;
CREATE TRIGGER acacia_notify_inserted AFTER INSERT ON jobs REFERENCING NEW TABLE AS acacia_inserted
    FOR EACH STATEMENT EXECUTE FUNCTION acacia_notify_inserted();

-- A row that becomes `queued` (or moves to another queue while queued). The WHEN clause is
-- evaluated without calling the function, so claims and completions (which never make a row
-- queued) pay nothing for it.
CREATE OR REPLACE FUNCTION acacia_notify_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('acacia_wake', NEW.queue);
    RETURN NULL;
END
$$;
CREATE TRIGGER acacia_notify_queued AFTER UPDATE OF state, queue ON jobs FOR EACH ROW
    WHEN (NEW.state = 'queued' AND (OLD.state <> 'queued' OR OLD.queue <> NEW.queue))
    EXECUTE FUNCTION acacia_notify_queued();

-- A queue resumed or its concurrency changed.
CREATE OR REPLACE FUNCTION acacia_notify_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('acacia_wake', NEW.name);
    RETURN NULL;
END
$$;
CREATE TRIGGER acacia_notify_queue AFTER UPDATE ON queues FOR EACH ROW
    WHEN ((OLD.paused <> 0 AND NEW.paused = 0) OR NEW.concurrency <> OLD.concurrency)
    EXECUTE FUNCTION acacia_notify_queue();

-- A queue's rate set, changed or removed: any queue may start more.
CREATE OR REPLACE FUNCTION acacia_notify_any() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('acacia_wake', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER acacia_notify_rates AFTER INSERT OR UPDATE OR DELETE ON queue_rates
    FOR EACH STATEMENT EXECUTE FUNCTION acacia_notify_any();
