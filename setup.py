"""Social Mentors: a streaming pipeline that finds social mentors in comment and reply events."""
from setuptools import setup

# One range for Beam and for its Google Cloud parts (the `dataflow` extra), so they cannot drift apart.
BEAM_RANGE = ">=2.77,<2.78"

setup(
    name="social-mentors",
    version="0.1.0",
    description="Find social mentors: readers who keep commenting and authors who keep answering.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=["pipelines", "pipelines.commands", "schemas", "transforms", "producers", "warehouse", "services", "importers", "report", "analysis"],
    package_data={"schemas": ["*.avsc", "history/*.avsc", "queries/*.sql"]},
    # Compatible ranges: the lowest version known to work, below the next major (Beam: the next
    # minor, whose runner internals this project relies on). CI audits what they resolve to.
    install_requires=[
        f"apache-beam{BEAM_RANGE}",
        "fastavro>=1.9,<2",
        "duckdb>=1.1,<3",
        "pyarrow>=14,<26",
        "numpy>=1.26,<3",  # the export formats columns with it (pipelines/commands/columnar_output.py)
        "sqlglot>=25,<31",
        # its C CRC32C: kafka-python checks every record batch's CRC, in pure Python without it (a
        # tenth of a bounded Kafka run's CPU, README "The bounded Kafka read")
        "kafka-python[crc32c]>=2.0.2,<4",
        "google-cloud-bigquery>=3.20,<4",
        "google-cloud-bigquery-storage>=2.25,<3",
    ],
    extras_require={
        "test": ["pytest>=8,<10", "pytest-timeout>=2.3,<3", "hypothesis>=6.100,<7"],
        # DataflowRunner stages and submits through GCS and the Dataflow API client, which plain
        # apache-beam lacks (`run --runner DataflowRunner` says so at launch); the Flex Template
        # image installs it. Local runs and CI do not need it.
        "dataflow": [f"apache-beam[gcp]{BEAM_RANGE}"],
    },
    entry_points={"console_scripts": ["social-mentors=pipelines.cli:console_main"]},
)
