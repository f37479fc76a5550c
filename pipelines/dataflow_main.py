"""Entry point for Dataflow Flex Templates: ``social-mentors run`` with the template's parameters.

A Flex Template launcher runs one Python file with the job parameters as ``--name=value`` arguments;
this file hands them to the same ``run`` command operators use by hand.
"""
import sys

from pipelines.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
