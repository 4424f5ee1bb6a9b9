"""Persistence: the JobStore implementations (SQLite now)."""
