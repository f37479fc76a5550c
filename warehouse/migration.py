"""What ``warehouse migrate`` does to bring a warehouse to this release's schema, for either warehouse.

In: the columns each table has now (read from the warehouse) and the schemas of ``schemas/*.avsc``.
Out: a :class:`Plan`: tables to create, columns to add, and what cannot be converted, said in words
with the command that recomputes it. The warehouses apply the plan in their own DDL, then rebuild
every view and table function and record the new version (``schemas.versions``).

Rules, the same for both: a missing table is created; a missing column is added as nullable (old
rows get the schema's default, else NULL). A column the schema requires but old rows cannot have
(non-null, no default) is added as nullable, and the note names the rows without a value and the
recompute command. A primary key that changed (DuckDB enforces keys, BigQuery does not) cannot be
altered in place: DuckDB renames the old table to ``<table>_before_v<version>``, starts the table
afresh and copies the rows that fit. The old table is dropped only when the copy holds all of it
(every row, every column); else it is kept whole, and the note says which columns and rows are
only there. Columns the schema no longer has, in a table not rebuilt, are left in place (made
nullable, so that new rows can leave them empty) and named.

Rows an older release computed by another definition (``RECOMPUTE_BEFORE``) cannot be converted at
all: the whole table is kept aside as ``<table>_before_v<version>`` and starts empty, so the
recompute command the note prints is accepted by ``run`` (a table of release 1's daily windows
beside weekly ones was refused) and gives what a fresh warehouse holds. Old rows of a column that
is in the key, where BigQuery would keep NULL and DuckDB cannot (``OLD_ROW_VALUES``), get a stated
value, so both warehouses keep and show the same rows.

A migrate of a warehouse already at this release's version and fingerprint changes nothing and
records nothing; it only rebuilds a view (DuckDB, BigQuery) that differs from this release's
definition (someone replaced it), and says so. Only a Social Mentors warehouse is migrated (one with
a version record or a pair_scores table): any other file or dataset, and a missing one, is refused
unchanged.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

import schemas
from schemas.versions import recompute_command

# {table: (the first schema version whose rows this release's definition computed, what changed)}.
RECOMPUTE_BEFORE = {
    "pair_scores": (2, "release 1's definition of what a mentor is (daily windows, other counts of replies)"),
}
# {(table, column): SQL literal (DuckDB and BigQuery) given to old rows}: a required column an older
# release did not write, in the table's key, where DuckDB cannot hold NULL. Release 1 recorded no run.
OLD_ROW_VALUES = {
    ("dead_letters", "run_started_at"): "TIMESTAMP '1970-01-01 00:00:00'",
}
OLD_ROW_MEANINGS = {
    ("dead_letters", "run_started_at"): "1970-01-01 00:00:00, standing for a run before runs were recorded",
}


@dataclasses.dataclass
class ColumnToAdd:
    table: str
    name: str
    duckdb_type: str
    bigquery_type: str
    default: Any  # the Avro default, or None
    required_without_default: bool  # the schema wants a value old rows cannot have
    old_rows: Optional[str] = None  # SQL literal old rows get instead (OLD_ROW_VALUES)
    dropped: bool = False  # missing from a warehouse that records this release's version: dropped by hand
    # schema field marked "x-computed-by-run": nullable, but old rows' NULL means "not computed": noted
    # like a required column (the rows written before have no value; the recompute command)
    computed_by_run: bool = False


@dataclasses.dataclass
class Plan:
    create: list[str] = dataclasses.field(default_factory=list)
    add: list[ColumnToAdd] = dataclasses.field(default_factory=list)
    rekey: list[str] = dataclasses.field(default_factory=list)  # tables whose primary key changed
    extra_columns: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    recompute: list[str] = dataclasses.field(default_factory=list)  # tables kept aside whole (RECOMPUTE_BEFORE)
    # tables a warehouse of this release's version lacks: removed or renamed by hand, created empty
    missing: list[str] = dataclasses.field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.create or self.add or self.rekey or self.recompute)

    def rebuilt(self, table: str) -> bool:
        """Whether ``table`` is created afresh (its old rows kept aside), so columns are not added to it."""
        return table in self.rekey or table in self.recompute


def plan(existing: dict[str, list[str]], keys: Optional[dict[str, list[str]]] = None,
         from_version: Optional[int] = None) -> Plan:
    """The plan for a warehouse whose tables have the columns ``existing`` ({table: [column]}; a
    table absent from it does not exist), and, where the warehouse enforces them, the primary keys
    ``keys``; ``from_version`` is the schema version it records (None: release 1, which recorded none)."""
    from schemas.versions import WAREHOUSE_SCHEMA_VERSION

    version = 1 if from_version is None else from_version
    result = Plan()
    result.recompute = [t for t, (since, _) in RECOMPUTE_BEFORE.items() if t in existing and version < since]
    for table in schemas.WAREHOUSE_TABLES:
        if table not in existing:
            result.create.append(table)
            if version >= WAREHOUSE_SCHEMA_VERSION:
                result.missing.append(table)
            continue
        have = set(existing[table])
        for field in schemas.avro_schema(table)["fields"]:
            if field["name"] in have:
                continue
            duck, bq, nullable = schemas.column_types(field["type"])
            result.add.append(ColumnToAdd(table, field["name"], duck, bq, field.get("default"),
                                          not nullable and "default" not in field,
                                          OLD_ROW_VALUES.get((table, field["name"])),
                                          version >= WAREHOUSE_SCHEMA_VERSION,
                                          bool(field.get("x-computed-by-run"))))
        extra = [c for c in existing[table] if c not in schemas.field_names(table)]
        if extra:
            result.extra_columns[table] = extra
        if (keys is not None and keys.get(table) != schemas.table_layout(table)["primary_key"]
                and table not in result.recompute):
            result.rekey.append(table)
    return result


@dataclasses.dataclass
class KeptAside:
    """A rebuilt table's old rows (all of them, every column) kept under another name."""

    aside: str
    rows: int  # in the old table
    copied: int  # of them, copied into the new table
    only_there: list[str]  # old columns the new table does not have


@dataclasses.dataclass
class Migrated:
    """What ``migrate`` did: ``changed`` False when the warehouse was already current (nothing
    recorded), and the definitions it ``rebuilt`` because they differed from this release's."""

    from_version: int
    changed: bool
    notes: list[str]
    rebuilt: list[str] = dataclasses.field(default_factory=list)


def sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def recompute_into_empty_command(url: str) -> str:
    """The command that fills a table migrate started afresh (its old rows kept aside), as ``run`` accepts it."""
    return (f"`social-mentors run --input EVENTS --warehouse {url}` (EVENTS: the events those rows came from; "
            "or `--source kafka` in place of `--input EVENTS`, from the oldest retained offset)")


def _column_note(column: ColumnToAdd, rows: int, url: str) -> Optional[str]:
    """What to say of a column added to a table of ``rows`` old rows (None: nothing)."""
    name = f"{column.table}.{column.name}"
    if not rows:
        return None
    if column.old_rows is not None:
        return (f"{name}: the {rows:,} rows written before have none (the release that wrote them did not record "
                f"it); they are kept, with {OLD_ROW_MEANINGS[(column.table, column.name)]}")
    if column.dropped:  # the recorded version says the column was there: someone dropped it
        return (f"{name}: the column was missing although the warehouse records this release's schema version "
                f"(dropped by hand?); added back, and the {rows:,} rows there have no value in it (NULL). "
                f"Recompute them: {recompute_command(url)}")
    if column.computed_by_run:  # a column this release added: the rows before it were not computed with it
        return (f"{name}: the {rows:,} rows written before have no value (NULL; the release that wrote them did "
                f"not compute it). Recompute them: {recompute_command(url)}")
    if column.required_without_default:
        return (f"{name}: the {rows:,} rows written before have no value (NULL: the column was missing, not "
                f"written by the release that wrote them or dropped since). Recompute them: {recompute_command(url)}")
    return None


def notes(result: Plan, url: str, rows: dict[str, int], kept_aside: dict[str, KeptAside]) -> list[str]:
    """What an operator must know after the plan was applied: columns old rows have no value for,
    tables kept aside (and what is only there), columns left in place."""
    said = []
    for column in result.add:
        if column.table not in kept_aside and column.table not in result.recompute:
            note = _column_note(column, rows.get(column.table, 0), url)
            said += [note] if note else []
    for table in result.missing:
        said.append(f"{table}: the table was missing although the warehouse records this release's schema version; "
                    "created empty. " + (f"Recompute it: {recompute_into_empty_command(url)}" if table == "pair_scores"
                                         else "Its old rows are wherever it was moved to"))
    for table, kept in kept_aside.items():
        if table in result.recompute:
            said.append(f"{table}: its {kept.rows:,} old rows were computed by {RECOMPUTE_BEFORE[table][1]} and "
                        f"cannot be converted: kept whole in {kept.aside}, and {table} starts empty. Recompute "
                        f"it: {recompute_into_empty_command(url)}")
            continue
        key = f"{table}: its primary key changed to ({', '.join(schemas.table_layout(table)['primary_key'])})"
        if not kept.copied:
            said.append(f"{key}; {kept.rows:,} old rows that could not be converted are kept in {kept.aside}. "
                        f"Recompute them: {recompute_command(url)}")
            continue
        only = []
        if kept.only_there:
            only.append(f"columns {', '.join(kept.only_there)} (no longer written)")
        if kept.copied < kept.rows:
            only.append(f"{kept.rows - kept.copied:,} rows that collide on the new key")
        said.append(f"{key}; {kept.copied:,} of its {kept.rows:,} old rows were copied into the new table; the old "
                    f"table is kept whole as {kept.aside}, the only place that holds {' and '.join(only)}")
    for table, extra in result.extra_columns.items():
        if table not in kept_aside and not result.rebuilt(table):
            said.append(f"{table}: columns {', '.join(extra)} are no longer written; left in place in {table} "
                        "with their old values (new rows leave them empty)")
    return said


class ColumnsChanged(RuntimeError):
    """A warehouse table lacks a column of this release's schema, or holds one of another type
    (dropped or altered by hand): a run would write part of its rows and fail, readers would fail."""


# BigQuery's API names some types by their legacy names.
_BIGQUERY_TYPE_NAMES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}


def column_problems(found: dict[str, dict[str, str]], dialect: str) -> tuple[list[str], list[str]]:
    """(missing, mistyped): ``table.column`` this release writes that the tables in ``found``
    ({table: {column: type}}, as the warehouse names types) lack, and ``table.column (TYPE, this
    release writes TYPE)`` of another type. A table absent from ``found`` is not looked at."""
    missing, mistyped = [], []
    for table in schemas.WAREHOUSE_TABLES:
        if table not in found:
            continue
        have = {c: _BIGQUERY_TYPE_NAMES.get(t.upper(), t.upper()) if dialect == "bigquery" else t.upper()
                for c, t in found[table].items()}
        for field in schemas.avro_schema(table)["fields"]:
            duck, bq, _ = schemas.column_types(field["type"])
            want = duck if dialect == "duckdb" else bq
            name = f"{table}.{field['name']}"
            if field["name"] not in have:
                missing.append(name)
            elif have[field["name"]] != want:
                mistyped.append(f"{name} ({have[field['name']]}, this release writes {want})")
    return missing, mistyped


def _mistyped_advice(mistyped: list[str]) -> str:
    tables = sorted({m.split(".")[0] for m in mistyped})
    return (f"migrate cannot change a column's type: restore {'it' if len(mistyped) == 1 else 'them'} by hand, or "
            f"rename {', '.join(tables)} aside (its rows are kept there) and migrate creates it afresh")


def check_columns(url: str, found: dict[str, dict[str, str]], dialect: str) -> None:
    """Raise :class:`ColumnsChanged` naming every missing or mistyped column and the command to run,
    unless the tables in ``found`` have this release's columns (the version record alone does not
    say: a column dropped by hand left it as it was)."""
    from schemas.versions import migrate_command

    missing, mistyped = column_problems(found, dialect)
    if not (missing or mistyped):
        return
    said = ([f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"] if missing else []) + (
        [f"column{'s' if len(mistyped) > 1 else ''} of another type {', '.join(mistyped)}"] if mistyped else [])
    fix = f"run `{migrate_command(url)}`" + (
        " (it adds the missing columns; their rows there have no value)" if missing else "")
    if mistyped:
        fix = f"{_mistyped_advice(mistyped)}; then {fix}" if missing else f"{_mistyped_advice(mistyped)}, with `{migrate_command(url)}`"
    raise ColumnsChanged(f"the warehouse {url} is not this release's although it records its schema version: "
                         f"{'; '.join(said)} (changed by hand?), so a run would fail part-way and readers would "
                         f"fail: {fix}")


def refuse_mistyped(url: str, found: dict[str, dict[str, str]], dialect: str) -> None:
    """``migrate``'s check before it changes anything: raise :class:`ColumnsChanged` for columns of
    another type, which it cannot convert (missing ones it adds)."""
    from schemas.versions import migrate_command

    _, mistyped = column_problems(found, dialect)
    if mistyped:
        raise ColumnsChanged(f"the warehouse {url}: column{'s' if len(mistyped) > 1 else ''} of another type "
                             f"{', '.join(mistyped)}; nothing was changed. {_mistyped_advice(mistyped)}, with "
                             f"`{migrate_command(url)}`")
