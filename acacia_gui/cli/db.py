"""`acacia db migrate`, `acacia db check` and `acacia db recover OUT`: the schema, damage, and saving what is readable.

migrate: creates or upgrades the schema, SQLite file or PostgreSQL database (`--database URL`),
         and prints its version; a schema written by a newer Acacia is refused, naming both
         versions (exit 1). Several instances migrating one PostgreSQL database at once are
         safe (an advisory lock). On PostgreSQL, check runs a query; recover is SQLite's only.

check:   `PRAGMA quick_check` (`--full`: `integrity_check`, which also checks the indexes'
         contents); exit 0 when the file is sound, 1 with SQLite's messages when it is not.
recover: writes a new database OUT (which must not exist) from the damaged one, by every
         way available, and keeps the one that saved the most jobs:
           - SQLite's own `.recover` (the `sqlite3` command-line tool, when it is installed),
           - a row-by-row copy in Python that skips the rows it cannot read,
           - `VACUUM INTO` (an exact copy, when the file is readable end to end).
         It says which one it kept and how many jobs OUT holds. Works on the file directly:
         stop the app first.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from ..config import Config
from ..core.errors import StoreError
from ..store.sqlite_db import check_database
from .output import echo

CHUNK = 500  # rows copied per SELECT by the Python copy (per row only where a chunk cannot be read)


def cmd_db(args: argparse.Namespace, config: Config) -> int:
    if args.action == "migrate":
        return _migrate(config)
    if config.database_url is not None:
        return _postgres(args, config)
    if not config.database.is_file():
        raise StoreError(f"there is no database at {config.database}")
    if args.action == "check":
        return _check(config.database, full=args.full)
    if not args.out:
        raise StoreError("acacia db recover: say where to write the recovered database: acacia db recover OUT")
    return _recover(config.database, Path(args.out))


def _migrate(config: Config) -> int:
    """Backend-specific, as check and recover are: the database object itself, not the JobStore."""
    if config.database_url is not None:
        from ..store.open import with_keepalives
        from ..store.postgres.db import PostgresDatabase

        database = PostgresDatabase(with_keepalives(config.database_url), min_size=1, max_size=1)
        try:
            version = database.migrate()  # under an advisory lock; refuses a newer schema, naming both versions
        finally:
            database.close()
    else:
        from ..store.sqlite import SqliteJobStore

        SqliteJobStore(config.database, synchronous=config.durability).close()  # opening migrates (or refuses)
        conn = sqlite3.connect(config.database)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    echo(f"{config.shown_database}: schema version {version} (up to date)")
    return 0


def _postgres(args: argparse.Namespace, config: Config) -> int:
    if args.action == "recover":
        raise StoreError("acacia db recover works on a SQLite file; for PostgreSQL, use its own tools "
                         "(pg_dump, point-in-time recovery)")  # fmt: skip
    from ..store.open import with_keepalives
    from ..store.postgres.db import PostgresDatabase

    database = PostgresDatabase(with_keepalives(config.database_url or ""), min_size=1, max_size=1)
    try:
        result = database.integrity_check()
    finally:
        database.close()
    echo(f"{config.shown_database}: {result}")
    return 0 if result == "ok" else 1


def _check(path: Path, *, full: bool) -> int:
    problems, _ = check_database(path, full=full)
    if not problems:
        echo(f"{path}: ok ({'integrity_check' if full else 'quick_check'})")
        return 0
    for problem in problems:
        echo(f"{path}: {problem}")
    echo(f"{path} is damaged; stop Acacia and run `acacia db recover OUT` to save what is readable", err=True)
    return 1


def _recover(source: Path, out: Path) -> int:
    if out.exists():
        raise StoreError(f"{out} already exists; name a new file")
    with tempfile.TemporaryDirectory(dir=out.parent) as work:
        tries = {"sqlite3 .recover": Path(work, "recover.db"), "row-by-row copy": Path(work, "copy.db"),
                 "VACUUM INTO": Path(work, "vacuum.db")}  # fmt: skip
        results: dict[str, int] = {}
        for name, target in tries.items():
            try:
                {"sqlite3 .recover": _sqlite3_recover, "row-by-row copy": _copy_rows,
                 "VACUUM INTO": _vacuum_into}[name](source, target)  # fmt: skip
                results[name] = _count_jobs(target)
            except (OSError, sqlite3.Error, subprocess.SubprocessError) as exc:
                echo(f"acacia: {name} did not work: {exc}", err=True)
        if not results:
            echo(f"acacia: could not recover anything from {source}", err=True)
            return 1
        best = max(results, key=lambda name: results[name])
        shutil.move(str(tries[best]), out)
    summary = ", ".join(f"{name}: {count}" for name, count in results.items())
    echo(f"recovered {results[best]} job(s) into {out} with {best} (jobs saved by each way: {summary})")
    echo(f"to use it: stop Acacia, keep {source} aside, and move {out} to {source}")
    return 0


def _count_jobs(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])
    finally:
        conn.close()


def _sqlite3_recover(source: Path, target: Path) -> None:
    tool = shutil.which("sqlite3")
    if tool is None:
        raise OSError("the sqlite3 command-line tool is not installed")
    # It exits 1 when it met damage, yet its output holds what it saved: use that, and count.
    dump = subprocess.run([tool, str(source), ".recover"], capture_output=True, timeout=3600, check=False)
    if not dump.stdout.strip():
        raise OSError(f"sqlite3 .recover wrote nothing: {dump.stderr.decode(errors='replace').strip()[:200]}")
    subprocess.run([tool, str(target)], input=dump.stdout, capture_output=True, timeout=3600, check=False)


def _vacuum_into(source: Path, target: Path) -> None:
    conn = sqlite3.connect(source)
    try:
        conn.execute("VACUUM INTO ?", (str(target),))
    finally:
        conn.close()


def _copy_rows(source: Path, target: Path) -> None:
    """The schema, then every row that can be read, table by table, in rowid order."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        schema = src.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        for kind, _, sql in schema:
            if kind == "table":
                dst.execute(sql)
        dst.execute(f"PRAGMA user_version = {int(src.execute('PRAGMA user_version').fetchone()[0])}")
        for kind, name, _ in schema:
            if kind == "table":
                _copy_table(src, dst, name)
        for kind, _, sql in schema:
            if kind in ("index", "trigger", "view"):
                try:
                    dst.execute(sql)
                except sqlite3.Error as exc:  # e.g. a unique index that the saved rows now break
                    echo(f"acacia: row-by-row copy: skipped `{sql[:80]}`: {exc}", err=True)
        dst.commit()
    finally:
        src.close()
        dst.close()


def _copy_table(src: sqlite3.Connection, dst: sqlite3.Connection, table: str) -> None:
    quoted = '"' + table.replace('"', '""') + '"'
    try:
        top = src.execute(f"SELECT max(rowid) FROM {quoted}").fetchone()[0] or 0
    except sqlite3.DatabaseError:
        top = 0
    columns = None
    start = 0
    while start <= top:
        rows = _read(src, quoted, start, start + CHUNK)
        if rows is None:  # a damaged page in this range: one row at a time
            rows = [row for rowid in range(start, start + CHUNK) for row in (_read(src, quoted, rowid, rowid + 1) or [])]
        if rows:
            columns = columns or len(rows[0])
            marks = ", ".join("?" * columns)
            dst.executemany(f"INSERT OR IGNORE INTO {quoted} VALUES ({marks})", rows)
        start += CHUNK


def _read(src: sqlite3.Connection, table: str, low: int, high: int) -> list[tuple] | None:
    try:
        return src.execute(f"SELECT * FROM {table} WHERE rowid >= ? AND rowid < ?", (low, high)).fetchall()
    except sqlite3.DatabaseError:
        return None
