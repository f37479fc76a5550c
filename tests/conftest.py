"""Fixtures shared by the tests."""
import pytest


@pytest.fixture
def warehouse_path(tmp_path):
    from warehouse.duckdb_warehouse import close_all

    path = str(tmp_path / "warehouse.duckdb")
    yield path
    close_all()
