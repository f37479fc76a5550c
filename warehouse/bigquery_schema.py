"""A BigQuery dataset's schema: what it holds (tables, views, recorded version), how a launch prepares
it and how ``warehouse migrate`` changes it (the plan is warehouse.migration's, the same for DuckDB).

Why apart from bigquery_warehouse: that module reads and writes rows; this one creates and changes
tables, once per launch (``run``, ``warehouse init``) or migrate, and the readers' checks. A worker's
open does none of it.
"""
from __future__ import annotations

import logging

from typing import Optional

import schemas
from schemas import versions
from warehouse import NotInitialised, migration


def table_schema(table: str) -> list:
    from google.cloud import bigquery

    return [bigquery.SchemaField(f["name"], f["type"], mode=f["mode"], description=f.get("description"))
            for f in schemas.bigquery_fields(table)]


class BigQueryDatasetSchema:
    """The schema side of :class:`warehouse.bigquery_warehouse.BigQueryWarehouse` (its ``client``,
    ``url``, ``project``, ``dataset`` and ``table_id``)."""

    def check_initialised(self, complete: bool = True) -> None:
        """Raise :class:`NotInitialised` unless the dataset holds every table (not ``complete``: a
        warehouse's, of any release); reads only. A warehouse of an older release is
        WarehouseOutdated, naming migrate (init would refuse it)."""
        from google.api_core.exceptions import NotFound

        try:
            present = {table.table_id for table in self.client.list_tables(f"{self.project}.{self.dataset}")}
        except NotFound:
            present = None
        a_warehouse = bool(present) and ("pair_scores" in present or versions.VERSION_TABLE in present)
        if a_warehouse and not complete:
            return
        if a_warehouse:  # of another release (the first had no run_ledger or runs): name migrate, not init
            versions.check(self.url, self.recorded_version())
        missing = [t for t in schemas.WAREHOUSE_TABLES if present is None or t not in present]
        if missing:
            what = (f"no dataset {self.project}.{self.dataset}" if present is None
                    else f"no table {', '.join(missing)} in {self.project}.{self.dataset}")
            raise NotInitialised(
                f"{self.url}: the warehouse has not been initialised ({what}: no run has written there); run "
                f"`social-mentors warehouse init --warehouse {self.url}` or a `social-mentors run --warehouse {self.url}` "
                "first (nothing was created)")

    def _create_table(self, table: str) -> None:
        from google.cloud import bigquery

        definition = bigquery.Table(self.table_id(table), schema=table_schema(table))
        layout = schemas.table_layout(table)
        definition.time_partitioning = bigquery.TimePartitioning(
            type_=bigquery.TimePartitioningType.DAY, field=layout["partition_by"])
        definition.clustering_fields = layout["cluster_by"] or None
        self.client.create_table(definition, exists_ok=True)

    def _create_definitions(self, replace: bool) -> None:
        # Views first: the table functions (analyst, report and status queries) read them.
        for name in schemas.DEFINITIONS:
            self.client.query(schemas.bigquery_ddl(name, self.project, self.dataset, replace)).result()

    def _existing_tables(self) -> dict[str, list[str]]:
        """{table: [column]} of the warehouse tables and the version table that exist."""
        return {t: list(c) for t, c in self.column_types((*schemas.WAREHOUSE_TABLES, versions.VERSION_TABLE)).items()}

    def column_types(self, tables: tuple[str, ...] = schemas.WAREHOUSE_TABLES) -> dict[str, dict[str, str]]:
        """{table: {column: BigQuery type}} of those of ``tables`` the dataset holds (one request each)."""
        from google.api_core.exceptions import NotFound

        found = {}
        for table in tables:
            try:
                found[table] = {f.name: f.field_type for f in self.client.get_table(self.table_id(table)).schema}
            except NotFound:
                pass
        return found

    def recorded_version(self) -> Optional[tuple[int, str]]:
        """The newest (version, fingerprint) recorded, read with tabledata.list (no query job: readers
        check it too); None when nothing is recorded."""
        from google.api_core.exceptions import NotFound

        try:
            rows = list(self.client.list_rows(self.table_id(versions.VERSION_TABLE)))
        except NotFound:
            return None
        if not rows:
            return None
        newest = max(rows, key=lambda row: (row["recorded_at"], row["version"]))
        return int(newest["version"]), newest["fingerprint"]

    def changed_views(self) -> list[str]:
        """This release's views that the dataset lacks or defines with another query (someone replaced
        one), compared with BigQuery's stored query, layout and comments aside."""
        from google.api_core.exceptions import NotFound

        changed = []
        for view in schemas.VIEWS:
            try:
                stored = self.client.get_table(self.table_id(view)).view_query
            except NotFound:
                stored = None
            if stored is None or _words(stored) != _words(schemas.bigquery_view_query(view, self.project, self.dataset)):
                changed.append(view)
        return changed

    def changed_table_functions(self) -> list[str]:
        """This release's table functions that the dataset lacks or defines with another body (someone
        replaced one), compared as :meth:`changed_views` compares views. One request each, so only
        `warehouse check` and `migrate` ask, not every reader."""
        from google.api_core.exceptions import NotFound

        changed = []
        for name in schemas.DEFINITIONS:
            if name in schemas.VIEWS:
                continue
            try:
                stored = self.client.get_routine(self.table_id(name)).body
            except NotFound:
                stored = None
            ours = schemas.bigquery_table_function_body(name, self.project, self.dataset)
            if stored is None or _query_words(stored) != _query_words(ours):
                changed.append(name)
        return changed

    def check_current(self) -> None:
        """The readers' check, reading only: the tables are there (:meth:`check_initialised`), the
        schema version is this release's, and so are the views; each failure names its command."""
        self.check_initialised()
        versions.check(self.url, self.recorded_version())
        migration.check_columns(self.url, self.column_types(), "bigquery")
        versions.check_definitions(self.url, self.changed_views())

    def _record_version(self, note: str) -> None:
        from google.cloud import bigquery

        schema = [bigquery.SchemaField(name, bq) for name, _, bq in versions.VERSION_COLUMNS]
        self.client.create_table(bigquery.Table(self.table_id(versions.VERSION_TABLE), schema=schema), exists_ok=True)
        # A query, not a streaming insert: the version is read back at once by the next launch.
        self.client.query(
            f"INSERT INTO `{self.table_id(versions.VERSION_TABLE)}` (version, fingerprint, recorded_at, note) "
            "VALUES (@version, @fingerprint, CURRENT_TIMESTAMP(), @note)",
            job_config=bigquery.QueryJobConfig(query_parameters=[
                bigquery.ScalarQueryParameter("version", "INT64", versions.WAREHOUSE_SCHEMA_VERSION),
                bigquery.ScalarQueryParameter("fingerprint", "STRING", versions.fingerprint()),
                bigquery.ScalarQueryParameter("note", "STRING", note)])).result()

    def _create_if_new(self) -> bool:
        from google.cloud import bigquery

        self.client.create_dataset(bigquery.Dataset(f"{self.project}.{self.dataset}"), exists_ok=True)
        if self._existing_tables():
            return False
        for table in schemas.WAREHOUSE_TABLES:
            self._create_table(table)
        self._create_definitions(replace=True)
        self._record_version("created")
        return True

    def prepare(self, update_definitions: bool = False) -> None:
        """Once, at launch (``run`` before the pipeline, ``warehouse init``): a new dataset gets its
        tables (partitioned, clustered), views, table functions and version record; one written by
        another schema version stops the run naming ``warehouse migrate``. Missing views and
        functions are created; ``update_definitions`` (``warehouse init``) replaces them with the
        repository's SQL. A run only creates what is missing: BigQuery limits how often one object
        may be updated. A view someone replaced is put back, as DuckDB does, before the run reads its
        accounting through it."""
        if self._create_if_new():
            return
        versions.check(self.url, self.recorded_version())
        migration.check_columns(self.url, self.column_types(), "bigquery")  # before a run writes anything
        replaced = [] if update_definitions else [v for v in self.changed_views() if self._view_exists(v)]
        self._create_definitions(replace=update_definitions)
        for view in replaced:
            self.client.query(schemas.bigquery_ddl(view, self.project, self.dataset, replace=True)).result()
            logging.getLogger("social_mentors.warehouse").warning(
                "%s: rebuilt the view %s, which differed from this release's definition", self.url, view)

    def _view_exists(self, view: str) -> bool:
        """False for a missing view: `_create_definitions` creates it, no rebuild to report."""
        from google.api_core.exceptions import NotFound

        try:
            self.client.get_table(self.table_id(view))
        except NotFound:
            return False
        return True


def _words(sql: str) -> str:
    """A query as sqlglot renders it, without comments or layout: BigQuery (and the emulator) may keep a
    view's query laid out otherwise than it was sent."""
    import sqlglot

    try:
        return sqlglot.parse_one(sql, read="bigquery").sql(dialect="bigquery", comments=False)
    except sqlglot.errors.ParseError:
        return sql


def _query_words(body: str) -> str:
    """A table function's body as :func:`_words` renders it, without the parentheses BigQuery may
    keep around it."""
    import sqlglot

    try:
        tree = sqlglot.parse_one(body, read="bigquery")
    except sqlglot.errors.ParseError:
        return body
    while isinstance(tree, (sqlglot.exp.Subquery, sqlglot.exp.Paren)) and not tree.args.get("alias"):
        tree = tree.this
    return tree.sql(dialect="bigquery", comments=False)
