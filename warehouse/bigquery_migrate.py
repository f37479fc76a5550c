"""``warehouse migrate`` on a BigQuery dataset: the plan is warehouse.migration's (the same for DuckDB);
this applies it: columns added or relaxed, tables whose old rows cannot be converted set aside.

Why apart from bigquery_schema: that module creates a dataset and checks it on every launch; this
one changes it, only when an operator asks.
"""
from __future__ import annotations

import schemas
from schemas import versions
from warehouse import NotAWarehouse, NotInitialised, migration


class BigQueryDatasetMigration:
    """The migrate side of :class:`warehouse.bigquery_warehouse.BigQueryWarehouse`; it uses the schema
    side's (:class:`warehouse.bigquery_schema.BigQueryDatasetSchema`) checks and table creation."""

    def migrate(self) -> migration.Migrated:
        """Bring the dataset to this release's schema (warehouse.migration). A missing dataset, or one
        without the warehouse's tables, is refused and left as it was; a current one is left as it
        is, but for a replaced view, rebuilt."""
        from google.api_core.exceptions import NotFound
        from google.cloud import bigquery

        try:
            self.client.get_dataset(f"{self.project}.{self.dataset}")
        except NotFound:
            raise NotInitialised(f"no dataset {self.project}.{self.dataset}: nothing was created; `social-mentors "
                                 f"warehouse init --warehouse {self.url}` creates a warehouse") from None
        types = self.column_types((*schemas.WAREHOUSE_TABLES, versions.VERSION_TABLE))  # one request a table
        found = {t: list(c) for t, c in types.items()}
        if "pair_scores" not in found and versions.VERSION_TABLE not in found:
            raise NotAWarehouse(f"{self.url} has no pair_scores or {versions.VERSION_TABLE} table: not a Social "
                                f"Mentors warehouse, nothing changed; `social-mentors warehouse init --warehouse "
                                f"{self.url}` creates one")
        old = self.recorded_version()
        versions.refuse_newer(self.url, old)
        migration.refuse_mistyped(self.url, types, "bigquery")
        old_version = old[0] if old else 1
        existing = {t: c for t, c in found.items() if t in schemas.WAREHOUSE_TABLES}
        plan = migration.plan(existing, None, old[0] if old else None)  # BigQuery enforces no key: none re-keyed
        rows = {t: self.client.get_table(self.table_id(t)).num_rows or 0 for t in existing}
        replaced = self.changed_views() + self.changed_table_functions()
        required_extra = self._required_extra_columns(plan)
        if old == (versions.WAREHOUSE_SCHEMA_VERSION, versions.fingerprint()) and plan.empty and not required_extra:
            for name in replaced:  # only replaced views or functions to put back: no new version
                self.client.query(schemas.bigquery_ddl(name, self.project, self.dataset, replace=True)).result()
            return migration.Migrated(old_version, False, migration.notes(plan, self.url, rows, {}), replaced)
        kept_aside = {}
        for table in plan.recompute:  # first: if a copy fails, nothing else has changed
            kept_aside.update(self._set_aside(table, old_version, rows[table]))
        for table in plan.create:
            self._create_table(table)
        for table in {c.table for c in plan.add if not plan.rebuilt(c.table)}:
            definition = self.client.get_table(self.table_id(table))
            # BigQuery adds only NULLABLE columns to a table: old rows read NULL.
            definition.schema = list(definition.schema) + [
                bigquery.SchemaField(c.name, c.bigquery_type, mode="NULLABLE") for c in plan.add if c.table == table]
            self.client.update_table(definition, ["schema"])
        for table, columns in required_extra.items():  # left in place; new rows leave them empty
            definition = self.client.get_table(self.table_id(table))
            definition.schema = [bigquery.SchemaField(f.name, f.field_type, mode="NULLABLE", fields=f.fields,
                                                      description=f.description)
                                 if f.name in columns else f for f in definition.schema]
            self.client.update_table(definition, ["schema"])  # relaxing REQUIRED to NULLABLE keeps every row
        for column in plan.add:
            value = column.old_rows or (None if column.default is None else migration.sql_literal(column.default))
            if value is not None and not plan.rebuilt(column.table):
                self.client.query(f"UPDATE `{self.table_id(column.table)}` SET {column.name} = {value} "
                                  f"WHERE {column.name} IS NULL").result()
        self._create_definitions(replace=True)
        self._record_version(f"migrated from version {old_version}")
        return migration.Migrated(old_version, True, migration.notes(plan, self.url, rows, kept_aside))

    def _set_aside(self, table: str, old_version: int, rows: int) -> dict[str, migration.KeptAside]:
        """A table whose old rows cannot be converted (migration.RECOMPUTE_BEFORE), as DuckDB's
        migrate does: copied whole to ``<table>_before_v<version>`` (a copy job: free), then created
        afresh, empty. The old table is deleted only once the copy holds every row."""
        from google.api_core.exceptions import NotFound

        aside = f"{table}_before_v{old_version}"
        counted = self._count_rows(table)
        if counted:
            try:
                self.client.get_table(self.table_id(aside))
                raise RuntimeError(f"{self.url}: {aside} already exists, so migrate cannot keep {table}'s old rows "
                                   f"there; nothing was changed. Rename or remove {aside}, then migrate again")
            except NotFound:
                pass
            self.client.copy_table(self.table_id(table), self.table_id(aside)).result()
            copied = self._count_rows(aside)
            if copied != counted:
                raise RuntimeError(f"{self.url}: the copy of {table} to {aside} holds {copied:,} of its {counted:,} "
                                   f"rows; {table} was left as it was. Migrate again")
        self.client.delete_table(self.table_id(table))
        self._create_table(table)
        return {table: migration.KeptAside(aside, counted, 0, [])} if counted else {}

    def _count_rows(self, table: str) -> int:
        """Rows of a table by query (its metadata may not count rows still in the streaming buffer)."""
        (row,) = self.client.query(f"SELECT COUNT(*) FROM `{self.table_id(table)}`").result()
        return row[0]

    def _required_extra_columns(self, plan: migration.Plan) -> dict[str, set[str]]:
        """{table: columns} the schema no longer has but the dataset still requires: BigQuery would
        refuse every new row, which leaves them empty."""
        required = {}
        for table, extra in plan.extra_columns.items():
            if plan.rebuilt(table):
                continue
            modes = {f.name: f.mode for f in self.client.get_table(self.table_id(table)).schema}
            columns = {c for c in extra if modes.get(c) == "REQUIRED"}
            if columns:
                required[table] = columns
        return required
