"""Many rows as one statement parameter: a JSON array of arrays, read back as a table.

Why not one array per column (`unnest(%s::bigint[], %s::text[], …)`)? psycopg turns a Python
list into a PostgreSQL array literal in Python, element by element: for the engine's completions
and events that was over a third of the app's CPU per job. `json.dumps` does the same work in C,
and the server unpacks the rows with jsonb_array_elements, also in C.

    sql = f"INSERT INTO t (a, b) SELECT a, b FROM {rowset('r', (('a', 'bigint'), ('b', 'text')))}"
    conn.execute(sql, (rows_param([(1, 'x'), (2, None)]),))

A JSON null reads as SQL NULL; numbers keep their exact value (Python writes the shortest text
that reads back as the same float); rows come back in their order, with `ord` (1, 2, …) to
ORDER BY where the order of inserted ids matters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def rowset(alias: str, columns: Sequence[tuple[str, str]]) -> str:
    """A FROM item for one rows_param() parameter (a `%s` placeholder), its columns named and typed
    as `columns` ((name, SQL type) pairs, in each row's order), plus `ord`, the row's position."""
    fields = ", ".join(f"(r.v ->> {i})::{sql_type} AS {name}" for i, (name, sql_type) in enumerate(columns))
    return f"(SELECT {fields}, r.ord FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS r (v, ord)) AS {alias}"


def rows_param(rows: Iterable[Sequence[Any]]) -> str:
    """The parameter for rowset(): the rows as one JSON text (values: None, bool, int, float, str)."""
    return _dumps([list(row) for row in rows])


def id_array(ids: Iterable[int]) -> str:
    """A bigint[] parameter (`%s::bigint[]`) as its array literal, built in one join: psycopg's
    own list adapter formats the elements one by one in Python."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"
