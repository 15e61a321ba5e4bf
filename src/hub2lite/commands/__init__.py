"""One module per subcommand, each with `add_parser(subparsers)`; `run(args, ui) -> exit code` is set as
the parser default. Modules import hub2lite's TensorFlow-using parts only inside `run`."""

from __future__ import annotations

from . import batch, bench, convert, demo, doctor, inspect, optimize, setup_flex, setup_metadata, sweep, validate

COMMANDS = (inspect, convert, validate, bench, sweep, optimize, batch, demo, setup_flex, setup_metadata, doctor)
