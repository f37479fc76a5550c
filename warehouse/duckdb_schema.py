"""A DuckDB warehouse file's schema: what it holds (tables, keys, views, recorded version), and how
``warehouse migrate`` changes it (the plan is warehouse.migration's, the same for BigQuery).

In: an open connection. Out: what the file holds, or the migrated file and what migrate did
(:class:`warehouse.migration.Migrated`). Why apart from duckdb_warehouse: that module reads and writes
rows; this one changes tables, and runs once per launch or migrate.
"""
from __future__ import annotations

import functools
from typing import Optional

import duckdb

import schemas
from schemas import versions
from warehouse import NotAWarehouse, migration


def _catalog(connection: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """{table or view: {column: DuckDB type}} of the file's main schema, columns in their order."""
    found: dict[str, dict[str, str]] = {}
    for table, column, kind in connection.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' "
            "ORDER BY table_name, ordinal_position").fetchall():
        found.setdefault(table, {})[column] = kind
    return found


def tables(connection: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """{table or view: [column]} of the file's main schema."""
    return {table: list(columns) for table, columns in _catalog(connection).items()}


def column_types(connection: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """{table: {column: DuckDB type}} of the warehouse tables the file holds."""
    return {table: columns for table, columns in _catalog(connection).items() if table in schemas.WAREHOUSE_TABLES}


def primary_keys(connection: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    return {table: list(columns) for table, columns in connection.execute(
        "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
        "WHERE constraint_type = 'PRIMARY KEY' AND schema_name = 'main'").fetchall()}


def record_version(connection: duckdb.DuckDBPyConnection, note: str) -> None:
    columns = ", ".join(f"{name} {duck}" for name, duck, _ in versions.VERSION_COLUMNS)
    connection.execute(f"CREATE TABLE IF NOT EXISTS {versions.VERSION_TABLE} ({columns})")
    connection.execute(f"INSERT INTO {versions.VERSION_TABLE} VALUES (?, ?, now()::TIMESTAMP, ?)",
                       [versions.WAREHOUSE_SCHEMA_VERSION, versions.fingerprint(), note])


def recorded_version(connection: duckdb.DuckDBPyConnection) -> Optional[tuple[int, str]]:
    if versions.VERSION_TABLE not in tables(connection):
        return None
    row = connection.execute(f"SELECT version, fingerprint FROM {versions.VERSION_TABLE} "
                             "ORDER BY recorded_at DESC, version DESC LIMIT 1").fetchone()
    return (int(row[0]), row[1]) if row else None


def create_views(connection: duckdb.DuckDBPyConnection, views: tuple[str, ...] = schemas.VIEWS) -> None:
    for view in views:
        connection.execute(schemas.query_sql(view, "duckdb"))


def view_definitions(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """{view: the SQL DuckDB keeps for it} of the file's main schema."""
    return dict(connection.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal AND NOT temporary "
        "AND database_name = current_database()").fetchall())


@functools.lru_cache(maxsize=1)
def expected_view_definitions() -> dict[str, str]:
    """The SQL DuckDB keeps for this release's views: made in an in-memory database, so that both sides
    are DuckDB's own rendering of a definition, compared as they are."""
    with duckdb.connect(":memory:") as connection:
        for table in schemas.WAREHOUSE_TABLES:
            connection.execute(schemas.duckdb_ddl(table))
        create_views(connection)
        return view_definitions(connection)


def changed_views(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """This release's views that the file lacks or defines otherwise (someone replaced one)."""
    found, expected = view_definitions(connection), expected_view_definitions()
    return [view for view in schemas.VIEWS if found.get(view) != expected[view]]


def is_warehouse(tables: dict[str, list[str]]) -> bool:
    """Whether a file's tables are a Social Mentors warehouse's: a version record, or pair_scores
    (every release wrote it; the first recorded no version)."""
    return versions.VERSION_TABLE in tables or "pair_scores" in tables


def required_extra_columns(connection: duckdb.DuckDBPyConnection, plan: migration.Plan) -> list[tuple[str, str]]:
    """(table, column) of the columns left in place (the schema no longer has them) that refuse NULL:
    new rows, which leave them empty, would be refused."""
    left = {(t, c) for t, columns in plan.extra_columns.items() if not plan.rebuilt(t) for c in columns}
    if not left:
        return []
    nullable = connection.execute("SELECT table_name, column_name, is_nullable FROM information_schema.columns "
                                  "WHERE table_schema = 'main'").fetchall()
    return sorted((t, c) for t, c, is_nullable in nullable if (t, c) in left and is_nullable == "NO")


def require_warehouse(connection: duckdb.DuckDBPyConnection, url: str) -> None:
    """Raise NotAWarehouse for a file without the warehouse's tables; reads only."""
    if not is_warehouse(tables(connection)):
        raise NotAWarehouse(
            f"{url} is a DuckDB file without the warehouse's tables (no pair_scores, no "
            f"{versions.VERSION_TABLE}): not a Social Mentors warehouse, nothing changed; `social-mentors "
            "warehouse init --warehouse PATH` creates a warehouse at a new PATH")


def migrate(connection: duckdb.DuckDBPyConnection, url: str) -> migration.Migrated:
    """Bring the warehouse open in ``connection`` (for writing) to this release's schema."""
    old = recorded_version(connection)
    versions.refuse_newer(url, old)
    types = column_types(connection)
    migration.refuse_mistyped(url, types, "duckdb")
    old_version = old[0] if old else 1
    existing = {t: list(c) for t, c in types.items()}
    plan = migration.plan(existing, primary_keys(connection), old[0] if old else None)
    rows = {t: connection.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in existing}
    replaced = changed_views(connection)
    current = old == (versions.WAREHOUSE_SCHEMA_VERSION, versions.fingerprint())
    if current and plan.empty and not required_extra_columns(connection, plan):
        if replaced:  # only a replaced view to put back: no new version to record
            create_views(connection, tuple(replaced))
        return migration.Migrated(old_version, False, migration.notes(plan, url, rows, {}), replaced)
    # One transaction: a migrate that fails half-way (a table name already taken) left a
    # warehouse without its views, neither the old schema nor the new
    connection.execute("BEGIN TRANSACTION")
    try:
        kept_aside = _migrate_in(connection, plan, existing, old_version)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return migration.Migrated(old_version, True, migration.notes(plan, url, rows, kept_aside),
                              replaced if current else [])


def _migrate_in(connection: duckdb.DuckDBPyConnection, plan: migration.Plan,
                existing: dict[str, list[str]], old_version: int) -> dict[str, migration.KeptAside]:
    """:func:`migrate`'s changes, inside its transaction; the tables kept aside."""
    for view in schemas.VIEWS:  # views read the tables being changed
        connection.execute(f"DROP VIEW IF EXISTS {view}")
    for table in plan.create:
        connection.execute(schemas.duckdb_ddl(table))
    kept_aside = {}
    for table in plan.recompute:  # first: nothing else is done to a table whose rows are set aside
        kept_aside.update(_set_aside(connection, table, old_version))
    for column in plan.add:
        if plan.rebuilt(column.table):
            continue  # rebuilt below with the new DDL
        default = "" if column.default is None else f" DEFAULT {migration.sql_literal(column.default)}"
        connection.execute(f"ALTER TABLE {column.table} ADD COLUMN {column.name} {column.duckdb_type}{default}")
        if column.old_rows is not None:
            connection.execute(f"UPDATE {column.table} SET {column.name} = {column.old_rows}")
    for table, column in required_extra_columns(connection, plan):  # left in place; new rows leave them empty
        connection.execute(f"ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL")
    for table in plan.rekey:
        kept_aside.update(_rebuild(connection, table, existing[table], old_version, plan))
    create_views(connection)
    record_version(connection, f"migrated from version {old_version}")
    return kept_aside


def _set_aside(connection: duckdb.DuckDBPyConnection, table: str, old_version: int) -> dict[str, migration.KeptAside]:
    """A table whose old rows cannot be converted (migration.RECOMPUTE_BEFORE): renamed whole to
    ``<table>_before_v<version>`` and created afresh, empty; an empty one is only created afresh."""
    aside = f"{table}_before_v{old_version}"
    total = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    connection.execute(f"ALTER TABLE {table} RENAME TO {aside}")
    connection.execute(schemas.duckdb_ddl(table))
    if not total:
        connection.execute(f"DROP TABLE {aside}")
        return {}
    return {table: migration.KeptAside(aside, total, 0, [])}


def _rebuild(connection: duckdb.DuckDBPyConnection, table: str, old_columns: list[str], old_version: int,
             plan: migration.Plan) -> dict[str, migration.KeptAside]:
    """A table whose primary key changed: renamed aside, created afresh, and the old rows that fit
    the new schema copied back. The old table is dropped only when the copy holds all of it (an
    outside probe: a column the schema no longer has was dropped with it, while the note said
    "left in place"); else returns {table: what is kept aside}."""
    aside = f"{table}_before_v{old_version}"
    connection.execute(f"ALTER TABLE {table} RENAME TO {aside}")
    connection.execute(schemas.duckdb_ddl(table))
    added = [c for c in plan.add if c.table == table]
    total = connection.execute(f"SELECT COUNT(*) FROM {aside}").fetchone()[0]
    only_there = [c for c in old_columns if c not in schemas.field_names(table)]
    copied = 0
    if not any(c.required_without_default and c.old_rows is None for c in added):
        columns = [c for c in schemas.field_names(table) if c in old_columns]
        defaults = [(c.name, c.old_rows or migration.sql_literal(c.default)) for c in added]
        names = columns + [n for n, _ in defaults]
        values = columns + [v for _, v in defaults]
        connection.execute(f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(values)} FROM {aside} "
                           "ON CONFLICT DO NOTHING")  # rows colliding on the new key stay aside only
        copied = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    if copied == total and not only_there:
        connection.execute(f"DROP TABLE {aside}")  # all of it is in the new table
        return {}
    return {table: migration.KeptAside(aside, total, copied, only_there)}
