"""The PostgreSQL store: the same JobStore and WorkerStore contracts as store/sqlite.py, on a
PostgreSQL server shared by several Acacia instances.

- db.PostgresDatabase: the connection pool, write transactions, events, notes and the schema;
- store.PostgresJobStore: the one object callers use, composing the parts below;
- jobs, worker, dependencies, artifacts, checkpoints, stalls, rates, schedules: ports of the
  SQLite store's parts of the same names, statement by statement.

Importing this package needs psycopg; the rest of Acacia does not import it unless a
PostgreSQL URL is used.
"""
