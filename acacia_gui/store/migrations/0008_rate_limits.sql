-- Rate limits (issue 13): a rate per queue, and the recent starts the claim counts.
-- queue_rates: at most `count` starts of the queue's jobs in any `per_seconds` window.
CREATE TABLE queue_rates (
    queue TEXT PRIMARY KEY,
    count INTEGER NOT NULL CHECK (count > 0),
    per_seconds REAL NOT NULL CHECK (per_seconds > 0)
);
-- One row per start of a rate-limited type ('type:<name>') or queue ('queue:<name>'),
-- written by the claim that starts it and pruned by the next claims once out of the window.
-- Jobs without limits write nothing here.
CREATE TABLE rate_starts (
    scope TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX rate_starts_scope ON rate_starts (scope, at);
