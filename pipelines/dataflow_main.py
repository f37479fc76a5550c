"""Entry point for Dataflow Flex Templates: ``social-mentors run`` with the template's parameters.

A Flex Template launcher runs this one Python file with each job parameter as ``--name=value``,
named as in ``deploy/dataflow/metadata.json`` (``--bootstrap_servers=HOST:9092``, booleans as
``--streaming=true``), followed by the Beam options Dataflow adds (``--runner``, ``--project``,
``--region``, ``--temp_location`` ...). This file hands them to the same ``run`` command operators use
by hand, whose parser reads the template spellings (pipelines/argv.py).
"""
import sys
from typing import Optional, Sequence

from pipelines.cli import main as cli_main


def command_line(template_args: Sequence[str]) -> list[str]:
    """The ``social-mentors`` command line for the launcher's arguments."""
    return ["run", *template_args]


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli_main(command_line(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
