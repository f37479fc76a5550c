"""Beam's Prism runner, built locally from the Go module proxy and cached.

Beam downloads Prism from a release page at run time; where that page is out of reach, Prism can be
built from its Go module instead (the same version as the Python SDK) and passed to Beam with
``--prism_location``. Streaming Kafka runs need it: the Python DirectRunner cannot run the unbounded
splittable DoFn that reads Kafka.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import apache_beam

from services.maven import cache_dir

PRISM_MODULE = "github.com/apache/beam/sdks/v2/go/cmd/prism"


class PrismUnavailable(RuntimeError):
    pass


def prism_path(version: str = apache_beam.__version__) -> Path:
    return cache_dir() / f"prism-{version}" / "prism"


def ensure_prism(version: str = apache_beam.__version__) -> Path:
    """The Prism binary for this Beam version, built with ``go install`` on first use."""
    override = os.environ.get("SOCIAL_MENTORS_PRISM")
    if override:
        return Path(override)
    binary = prism_path(version)
    if binary.exists():
        return binary
    if not shutil.which("go"):
        raise PrismUnavailable("building Prism needs Go (https://go.dev/dl, or apt-get install golang)")
    binary.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(binary.parent), CGO_ENABLED="0")
    built = subprocess.run(["go", "install", f"{PRISM_MODULE}@v{version}"], env=env, capture_output=True, text=True)
    if built.returncode != 0 or not binary.exists():
        raise PrismUnavailable(f"go install {PRISM_MODULE}@v{version} failed:\n{built.stderr[-3000:]}")
    return binary


def prism_args(beam_args: list[str]) -> list[str]:
    """Beam arguments that run on a local Prism build: ``--runner=PrismRunner`` unless a runner is
    chosen, and ``--prism_location`` for Prism unless one is given (Prism's splitting is turned off
    by ``pipelines.scoring.pipeline_options``, for every run on Prism)."""
    args = list(beam_args)
    if not any(arg.startswith("--runner") for arg in args):
        args.append("--runner=PrismRunner")
    if not any(arg.startswith("--prism_location") for arg in args):
        args.append(f"--prism_location={ensure_prism()}")
    return args
