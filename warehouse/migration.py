"""What ``warehouse migrate`` does to bring a warehouse to this release's schema, for either warehouse.

In: the columns each table has now (read from the warehouse) and the schemas of ``schemas/*.avsc``.
Out: a :class:`Plan`: tables to create, columns to add, and what cannot be converted, said in words
with the command that recomputes it. The warehouses apply the plan in their own DDL, then rebuild
every view and table function and record the new version (``schemas.versions``).

Rules, the same for both: a missing table is created; a missing column is added as nullable (old
rows get the schema's default, else NULL). A column the schema requires but old rows cannot have
(non-null, no default) is added as nullable, and the note names the rows without a value and the
recompute command. A primary key that changed (DuckDB enforces keys, BigQuery does not) cannot be
altered in place: DuckDB keeps the old table under ``<table>_before_v<version>`` (nothing is lost)
and starts the table afresh, copying the rows that fit. Columns the schema no longer has are left
in place and named.
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
                                          not nullable and "default" not in field))
        extra = [c for c in existing[table] if c not in schemas.field_names(table)]
        if extra:
            result.extra_columns[table] = extra
        if keys is not None and keys.get(table) != schemas.table_layout(table)["primary_key"]:
            result.rekey.append(table)
    return result


def sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def notes(result: Plan, url: str, rows: dict[str, int], kept_aside: dict[str, tuple[str, int]]) -> list[str]:
    """What an operator must know after the plan was applied: columns old rows have no value for,
    tables kept aside, columns left in place."""
    said = []
    for column in result.add:
        if column.required_without_default and rows.get(column.table):
            said.append(
                f"{column.table}.{column.name}: the {rows[column.table]:,} rows written before have no value "
                f"(NULL; the release that wrote them did not compute it). Recompute them: {recompute_command(url)}")
    for table, (aside, count) in kept_aside.items():
        said.append(
            f"{table}: its primary key changed to ({', '.join(schemas.table_layout(table)['primary_key'])}); "
            f"{count:,} old rows that could not be converted are kept in {aside}. Recompute them: {recompute_command(url)}")
    for table, extra in result.extra_columns.items():
        said.append(f"{table}: columns {', '.join(extra)} are no longer written; left in place")
    return said
