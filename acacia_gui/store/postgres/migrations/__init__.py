"""The PostgreSQL schema's steps: NNNN_name.sql scripts, applied in order by db.PostgresDatabase.migrate()."""
