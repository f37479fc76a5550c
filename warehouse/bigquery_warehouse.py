"""BigQuery as the warehouse: tables, view and table functions from ``schemas/``; rows by load job or
streaming insert.

``bigquery://PROJECT/DATASET``. Tables are created when missing with the schema derived from
``schemas/*.avsc``: ``pair_scores`` partitioned by the window's date and clustered by site, author_id,
reader_id; ``dead_letters`` partitioned by arrival date. Nothing here updates or deletes rows, so
the design never touches BigQuery's streaming buffer. Rows are appended in one of these ways:

* streaming inserts (``insert_rows_json``, a stream's way), each row with a stable insert id (its
  key, run and pane), so BigQuery drops a retried row;
* load jobs (``bulk``, a bounded run's way): free, and without the streaming limits on old
  partitions, but without insert ids;
* with ``?write=storage``, the Storage Write API's default stream (``warehouse/bigquery_storage.py``);
  with ``?write=storage-exactly-once`` the sinks append to committed streams at offsets kept in
  Beam state (``transforms/exactly_once_writes.py``), through ``storage_writer()``.

Either way, the ``pair_scores_latest`` view removes what BigQuery did not deduplicate and chooses the
row the embedded warehouse keeps: per pair and window, of each run its highest pane, then the row
of the most data (reader_comments + author_replies), then the newest run. Rows BigQuery refuses
(its per-row errors) are returned with the reason, and the pipeline writes them to ``dead_letters``.
``run_ledger`` and ``runs`` are appended the same way; ``run_ledger_latest`` and ``runs_latest``
show the newest count and status.

The analysts' queries (``schemas/queries``) become table functions, ``mentors(arg_reader, arg_site,
arg_half_life_days, arg_top)`` and so on, created with the tables; ``query`` calls them with query
parameters, never with user input formatted into SQL.

Why not Beam's WriteToBigQuery: its table management goes through an apitools client hard-wired to
Google's endpoint, its batch default loads files through GCS, and neither can be exercised against
an emulator offline. This sink is one DoFn over the same interface as the embedded warehouse.

Readers (``query``, ``export``, ``sql``, ``status``, ``report``) open the warehouse ``read_only``: they
check that the dataset and its tables are there and create nothing, so a mistyped dataset is one
error line, not a new empty dataset that answers every query with no rows.

``BIGQUERY_EMULATOR_HOST`` (``http://HOST:PORT``) points the client at an emulator.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
from typing import TYPE_CHECKING, Any, ContextManager, Iterator

import schemas
from warehouse import RefusedRow, Written
from warehouse.bigquery_migrate import BigQueryDatasetMigration
from warehouse.bigquery_schema import BigQueryDatasetSchema, table_schema

if TYPE_CHECKING:
    from warehouse.bigquery_storage import StorageWriter

# A request holding one invalid row is refused whole; the valid rows are sent again this often.
MAX_INSERT_ATTEMPTS = 3
EPOCH = dt.datetime(1970, 1, 1)


def _client(project: str):
    from google.cloud import bigquery

    emulator = os.environ.get("BIGQUERY_EMULATOR_HOST")
    if emulator:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(project=project, credentials=AnonymousCredentials(),
                               client_options=ClientOptions(api_endpoint=emulator))
    return bigquery.Client(project=project)


# The query option of a warehouse URL that chooses the Storage Write API (pipelines/settings.py).
STORAGE_OPTIONS = ("write=storage", "write=storage-exactly-once")
# Columns besides the primary key in the sinks' insert ids: a row of each run and pane is its own row.
INSERT_ID_EXTRA = {"pair_scores": ("run_started_at", "pane_index"), "dead_letters": (), "run_ledger": ("pane_index",)}


def writes_exactly_once(url: str) -> bool:
    """Whether the sinks append to committed streams with offsets (``--bigquery-write storage-exactly-once``)."""
    return url.startswith("bigquery://") and url.partition("?")[2] == "write=storage-exactly-once"


def insert_id(table: str, row: dict[str, Any]) -> str:
    """The row's insert id as the sinks give it (key, and run and pane where a table has them)."""
    columns = schemas.table_layout(table)["primary_key"] + list(INSERT_ID_EXTRA[table])
    return "|".join(str(row[c]) for c in columns)


def _bq_value(value: Any, is_timestamp: bool) -> Any:
    if value is None:
        return None
    if is_timestamp:  # epoch millis -> RFC 3339
        return (EPOCH + dt.timedelta(milliseconds=value)).isoformat(timespec="milliseconds") + "Z"
    return value


class BigQueryWarehouse(BigQueryDatasetSchema, BigQueryDatasetMigration):
    def __init__(self, url: str, read_only: bool = False):
        url, _, options = url.partition("?")
        rest = url[len("bigquery://"):].strip("/")
        if rest.count("/") != 1:
            raise ValueError(f"{url!r}: write bigquery://PROJECT/DATASET")
        self.url = url
        self.project, self.dataset = rest.split("/")
        # No request here: every worker's DoFn setup and every command opens the warehouse.
        self.client = _client(self.project)
        # Rows outside load jobs: "streaming" (insertAll) or "storage" (the Storage Write API's
        # default stream, warehouse/bigquery_storage.py). With "storage-exactly-once" the sinks append
        # to committed streams themselves (transforms/exactly_once_writes.py); what else comes here
        # (none of the sinks' rows) takes the default stream.
        self.row_writes = options.removeprefix("write=") if options in STORAGE_OPTIONS else "streaming"
        self._storage = None
        if read_only:  # the readers (query, export, sql, status, report) create nothing
            self.check_initialised(complete=False)  # a mistyped dataset: one line; the rest is check_current's

    def storage_writer(self) -> "StorageWriter":
        """The dataset's Storage Write API client (made at first use)."""
        if self._storage is None:
            from warehouse.bigquery_storage import StorageWriter

            self._storage = StorageWriter(self.project, self.dataset)
        return self._storage

    def table_id(self, table: str) -> str:
        return f"{self.project}.{self.dataset}.{table}"

    def _job_config(self, name: str, values: dict[str, Any]):
        from google.cloud import bigquery

        return bigquery.QueryJobConfig(query_parameters=[
            bigquery.ScalarQueryParameter(param, kind, values.get(param))
            for param, kind in schemas.query_parameters(name)
        ])

    def _payload(self, table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        stamps = set(schemas.timestamp_fields(table))
        return [{k: _bq_value(v, k in stamps) for k, v in row.items()} for row in rows]

    def _write(self, table: str, rows: list[dict[str, Any]], row_ids: list[str], bulk: bool) -> list[RefusedRow]:
        if not rows:
            return []
        if bulk:
            return self._load(table, rows, row_ids)
        if self.row_writes != "streaming":
            return self.storage_writer().append_default(table, rows)
        return self._insert(table, rows, row_ids)

    def _load(self, table: str, rows: list[dict[str, Any]], row_ids: list[str]) -> list[RefusedRow]:
        """Append ``rows`` with one load job: free, no streaming buffer, no limit on how old a
        partition may be. A load job has no insert ids (a retried bundle's rows appear twice and the
        view keeps one) and is all or nothing: when BigQuery rejects its data, the same rows go
        through streaming inserts, which name the rows it refuses and store the others."""
        from google.api_core.exceptions import BadRequest
        from google.cloud import bigquery

        config = bigquery.LoadJobConfig(
            schema=table_schema(table), write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        )
        try:
            self.client.load_table_from_json(self._payload(table, rows), self.table_id(table), job_config=config).result()
        except BadRequest:
            return self._insert(table, rows, row_ids)
        return []

    def _insert(self, table: str, rows: list[dict[str, Any]], row_ids: list[str]) -> list[RefusedRow]:
        """Stream ``rows`` in; returns those BigQuery refused, with its reasons.

        One invalid row makes BigQuery refuse the whole request: the others come back marked
        ``stopped``, and are sent again (with their insert ids, so nothing is stored twice).
        """
        payload = self._payload(table, rows)
        refused: list[RefusedRow] = []
        pending = list(range(len(rows)))
        for _ in range(MAX_INSERT_ATTEMPTS):
            if not pending:
                return refused
            errors = self.client.insert_rows_json(
                self.table_id(table), [payload[i] for i in pending], row_ids=[row_ids[i] for i in pending])
            stopped = []
            for entry in errors:
                index = pending[entry["index"]]
                reasons = [e for e in entry.get("errors", []) if e.get("reason") != "stopped"]
                if reasons:
                    refused.append(RefusedRow(rows[index], "; ".join(
                        f"{e.get('location') or table}: {e.get('message') or e.get('reason')}" for e in reasons)))
                else:
                    stopped.append(index)
            pending = stopped
        if pending:
            raise RuntimeError(f"BigQuery kept stopping {len(pending)} rows of {table} without a reason; "
                               f"the runner will retry the bundle")
        return refused

    def _ids(self, table: str, rows: list[dict[str, Any]], extra: tuple[str, ...] = ()) -> list[str]:
        """Stable insert ids: the row's key (and ``extra`` columns), so a retried insert adds no row."""
        columns = schemas.table_layout(table)["primary_key"] + list(extra)
        return ["|".join(str(row[c]) for c in columns) for row in rows]

    def held_open(self) -> ContextManager[None]:
        """Nothing to hold: every request stands alone."""
        return contextlib.nullcontext()

    def write_scores(self, rows: list[dict[str, Any]], bulk: bool = False) -> Written:
        """Append rows; the view chooses among them (nothing is kept back at write time)."""
        return Written(self._write("pair_scores", rows, [insert_id("pair_scores", r) for r in rows], bulk))

    def write_dead_letters(self, rows: list[dict[str, Any]], bulk: bool = False) -> Written:
        return Written(self._write("dead_letters", rows, [insert_id("dead_letters", r) for r in rows], bulk))

    def write_ledger(self, rows: list[dict[str, Any]], bulk: bool = False) -> Written:
        return Written(self._write("run_ledger", rows, [insert_id("run_ledger", r) for r in rows], bulk))

    def write_actors(self, rows: list[dict[str, Any]]) -> None:
        """Append people by load job (free; a file of thousands of rows at once); actors_latest shows
        each one's newest load. A refused row fails the load: names are not worth a dead letter."""
        refused = self._write("actors", rows, self._ids("actors", rows, ("loaded_at",)), bulk=True)
        if refused:
            raise RuntimeError(f"BigQuery refused {len(refused)} actors, e.g. {refused[0].reason}")

    def record_run(self, row: dict[str, Any]) -> None:
        """Append a run's status by streaming insert: two small rows a run, which load jobs (1,500 a
        table a day) should not be spent on."""
        refused = self._insert("runs", [row], self._ids("runs", [row], ("status", "recorded_at")))
        if refused:
            raise RuntimeError(f"BigQuery refused the status of run {_bq_value(row['run_started_at'], True)}: "
                               f"{refused[0].reason}")

    def query(self, name: str, params: dict[str, Any]) -> tuple[list[str], list[tuple]]:
        """An analyst query through its table function, or one of ``schemas.RUN_QUERIES`` as it is."""
        if name in schemas.RUN_QUERIES:
            call = schemas.bigquery_sql(name, self.project, self.dataset)
        else:
            call = schemas.bigquery_call(name, self.project, self.dataset)
        result = self.client.query(call, job_config=self._job_config(name, params)).result()
        columns = [field.name for field in result.schema]
        return columns, [_naive_row(tuple(row.values())) for row in result]

    def export(self, table: str, all_rows: bool = False) -> tuple[list[str], Iterator[tuple]]:
        """The logical rows of ``table`` (its latest view), or with ``all_rows`` every appended row."""
        if table not in schemas.WAREHOUSE_TABLES:
            raise ValueError(f"unknown table {table!r}")
        order = ", ".join(schemas.table_layout(table)["primary_key"])
        columns = schemas.field_names(table)
        source = self.table_id(table if all_rows else schemas.latest_view(table))  # one row per key, as DuckDB keeps
        result = self.client.query(f"SELECT {', '.join(columns)} FROM `{source}` ORDER BY {order}").result()
        return columns, (_naive_row(tuple(row.values())) for row in result)

    def count(self, table: str, all_rows: bool = False) -> int:
        """Rows of the table's latest view (the logical rows), or with ``all_rows`` every appended row."""
        if table not in schemas.WAREHOUSE_TABLES:
            raise ValueError(f"unknown table {table!r}")
        source = self.table_id(table if all_rows else schemas.latest_view(table))
        (row,) = self.client.query(f"SELECT COUNT(*) FROM `{source}`").result()
        return row[0]

    def sql(self, text: str) -> tuple[list[str], list[tuple]]:
        """One analyst's read-only statement (``social-mentors sql``); unqualified tables are the dataset's."""
        from google.cloud import bigquery

        from warehouse import check_read_only

        from google.api_core.exceptions import BadRequest, NotFound

        check_read_only(text, "bigquery")
        config = bigquery.QueryJobConfig(default_dataset=f"{self.project}.{self.dataset}")
        try:
            result = self.client.query(text, job_config=config).result()
        except (BadRequest, NotFound) as error:  # the statement's fault (a typo, a missing table), as DuckDB's
            raise ValueError(f"BigQuery: {error.message}".splitlines()[0]) from error
        return [field.name for field in result.schema], [_naive_row(tuple(row.values())) for row in result]



def _naive_row(row: tuple) -> tuple:
    """UTC datetimes without tzinfo, as the embedded warehouse returns them."""
    return tuple(v.astimezone(dt.timezone.utc).replace(tzinfo=None) if isinstance(v, dt.datetime) and v.tzinfo else v
                 for v in row)
