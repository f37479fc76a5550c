"""Social Mentors: a streaming pipeline that finds social mentors in comment and reply events."""
from setuptools import setup

setup(
    name="social-mentors",
    version="0.1.0",
    description="Find social mentors: readers who keep commenting and authors who keep answering.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=["pipelines", "pipelines.commands", "schemas", "transforms", "producers", "warehouse", "services", "importers"],
    package_data={"schemas": ["*.avsc", "history/*.avsc", "queries/*.sql"]},
    install_requires=[
        "apache-beam>=2.77,<3",
        "fastavro>=1.9",
        "duckdb>=1.1",
        "pyarrow",
        "sqlglot>=25",
        "kafka-python>=2.0.2",
        "google-cloud-bigquery>=3.20",
        "google-cloud-bigquery-storage>=2.25",
    ],
    extras_require={
        "test": ["pytest>=8"],
    },
    entry_points={"console_scripts": ["social-mentors=pipelines.cli:main"]},
)
