-- Schema 11: clock_steps, one row per machine: the last backward clock step its instances
-- applied (rebase_after_clock_step). Every instance on a machine sees the same step of that
-- machine's clock within about a second, and each asks for the rebase: the first one records it
-- here and moves the times; the others find it recorded (a step of the same size, seconds ago)
-- and move nothing, so a delayed job is moved back once, not once per instance.
CREATE TABLE clock_steps (
    host TEXT PRIMARY KEY,
    step REAL NOT NULL CHECK (step > 0),
    at REAL NOT NULL
);
