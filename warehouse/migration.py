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


@dataclasses.dataclass
class ColumnToAdd:
    table: str
    name: str
    duckdb_type: str
    bigquery_type: str
    default: Any  # the Avro default, or None
    required_without_default: bool  # the schema wants a value old rows cannot have
    # schema field marked "x-computed-by-run": nullable, but old rows' NULL means "not computed": noted
    # like a required column (the rows written before have no value; the recompute command)
    computed_by_run: bool = False


@dataclasses.dataclass
class Plan:
    create: list[str] = dataclasses.field(default_factory=list)
    add: list[ColumnToAdd] = dataclasses.field(default_factory=list)
    rekey: list[str] = dataclasses.field(default_factory=list)  # tables whose primary key changed
    extra_columns: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.create or self.add or self.rekey)


def plan(existing: dict[str, list[str]], keys: Optional[dict[str, list[str]]] = None) -> Plan:
    """The plan for a warehouse whose tables have the columns ``existing`` ({table: [column]}; a
    table absent from it does not exist), and, where the warehouse enforces them, the primary keys
    ``keys``."""
    result = Plan()
    for table in schemas.WAREHOUSE_TABLES:
        if table not in existing:
            result.create.append(table)
            continue
        have = set(existing[table])
        for field in schemas.avro_schema(table)["fields"]:
            if field["name"] in have:
                continue
            duck, bq, nullable = schemas.column_types(field["type"])
            result.add.append(ColumnToAdd(table, field["name"], duck, bq, field.get("default"),
                                          not nullable and "default" not in field,
                                          bool(field.get("x-computed-by-run"))))
        extra = [c for c in existing[table] if c not in schemas.field_names(table)]
        if extra:
            result.extra_columns[table] = extra
        if keys is not None and keys.get(table) != schemas.table_layout(table)["primary_key"]:
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


def notes(result: Plan, url: str, rows: dict[str, int], kept_aside: dict[str, KeptAside]) -> list[str]:
    """What an operator must know after the plan was applied: columns old rows have no value for,
    tables kept aside (and what is only there), columns left in place."""
    said = []
    for column in result.add:
        noted = column.required_without_default or column.computed_by_run
        if noted and rows.get(column.table) and column.table not in kept_aside:
            said.append(
                f"{column.table}.{column.name}: the {rows[column.table]:,} rows written before have no value "
                f"(NULL; the release that wrote them did not compute it). Recompute them: {recompute_command(url)}")
    for table, kept in kept_aside.items():
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
        if table not in kept_aside and table not in result.rekey:
            said.append(f"{table}: columns {', '.join(extra)} are no longer written; left in place in {table} "
                        "with their old values (new rows leave them empty)")
    return said
