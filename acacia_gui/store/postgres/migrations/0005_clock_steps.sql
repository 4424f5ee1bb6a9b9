-- Schema 5: clock_steps (SQLite's schema 11): one row per machine, the last backward clock step
-- its instances applied (rebase_after_clock_step). Every instance on a machine sees the same
-- step of that machine's clock within about a second, and each asks for the rebase: the first
-- records it here and moves the times; the others find it recorded (a step of the same size,
-- seconds ago) and move nothing, so a delayed job is moved back once, not once per instance.
-- No commit-counter trigger, as for rate_starts: the row is the rebase's bookkeeping, and the
-- rebase's own changes to jobs and schedules are counted by theirs.

CREATE TABLE clock_steps (
    host text COLLATE "C" PRIMARY KEY,
    step double precision NOT NULL CHECK (step > 0),
    at   double precision NOT NULL
);
