-- Acacia schema v2: process isolation. Per-job limits (NULL: the handler's), and how many
-- runs of a job a crash of the app cut short (they do not use up attempts).
ALTER TABLE jobs ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0 CHECK (interruptions >= 0);
ALTER TABLE jobs ADD COLUMN cancel_grace REAL CHECK (cancel_grace IS NULL OR cancel_grace >= 0);
ALTER TABLE jobs ADD COLUMN memory_limit INTEGER CHECK (memory_limit IS NULL OR memory_limit > 0);
ALTER TABLE jobs ADD COLUMN cpu_time_limit REAL CHECK (cpu_time_limit IS NULL OR cpu_time_limit > 0);
ALTER TABLE jobs ADD COLUMN nice INTEGER CHECK (nice IS NULL OR nice BETWEEN 0 AND 19);
