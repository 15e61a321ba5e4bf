"""A batch model's options: every flag `convert` takes, derived from its parser.

Nothing here lists an option by hand. `model_options()` builds the real `convert` parser (the shared option
group, `commands/_common.py`, plus convert's own flags) and turns every flag into a manifest key named as its
argparse dest (`--int8-ranges` -> "int8_ranges"), except the flags that describe one run rather than one model
(`NOT_PER_MODEL`: where it writes, the single `--quantize` mode that batch's "modes" list replaces, one model's
saved inputs). Only convert's parser counts because the worker runs convert's path once per mode: a flag convert
lacked could not reach the job. `sweep` takes the same per-model flags (the shared group); its own are where it
writes, `--modes` and the benchmark settings, which batch has once for the whole run (a test keeps it so).

A manifest value is turned back into the command-line tokens the flag takes (`convert_argv`) and parsed by
convert's own parser, so a manifest entry is checked by the same types, choices and checks as the command line,
and the worker builds its job with convert's own `job_from_args`.
"""

from __future__ import annotations

import argparse
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..specs import QuantMode

__all__ = ["ModelOption", "model_options", "NOT_PER_MODEL", "normalize_value", "convert_argv", "convert_args",
           "check_model_options", "add_default_flags", "absolute_paths"]

#: convert's dests that are not a model's options: where and how one run writes, the single mode (batch's
#: "modes" list gives them), one model's saved inputs.
NOT_PER_MODEL = frozenset({"help", "source", "output", "force", "json", "quantize", "save_inputs", "load_inputs",
                           "outputs_dir"})


class _ParserError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting (manifest values are checked, not typed)."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise _ParserError(message)


@dataclass(frozen=True)
class ModelOption:
    """One per-model flag: its manifest key (the argparse dest), its flag, and what its values are."""

    key: str
    flag: str
    kind: str  # "switch" (takes no value) | "value" (one value) | "list" (repeatable NAME=VALUE or similar)
    type: Callable[[str], Any] | None
    choices: tuple[Any, ...] | None
    metavar: str | None
    help: str | None
    is_path: bool  # names a file or folder (commands/_common.PathArg): relative to the manifest's folder
    keywords: tuple[str, ...] = ()  # path flags: words that are not paths ("synthetic")
    must_exist: bool = True


def _kind(action: argparse.Action) -> str:
    if action.nargs == 0:
        return "switch"
    if isinstance(action, argparse._AppendAction):
        return "list"
    return "value"


def _convert_parser() -> argparse.ArgumentParser:
    """`hub2lite convert`'s own parser under a root that raises `_ParserError` instead of exiting."""
    from ..commands import convert

    root = _Parser(prog="hub2lite")
    convert.add_parser(root.add_subparsers(dest="command"))
    return root


@functools.cache
def model_options() -> dict[str, ModelOption]:
    """Every per-model option of convert, by manifest key (see the module docstring)."""
    from ..commands._common import PathArg

    sub = next(a for a in _convert_parser()._actions if isinstance(a, argparse._SubParsersAction))
    out: dict[str, ModelOption] = {}
    for action in sub.choices["convert"]._actions:
        key = action.dest
        if key in NOT_PER_MODEL or not action.option_strings:
            continue
        path = action.type if isinstance(action.type, PathArg) else None
        out[key] = ModelOption(
            key=key, flag=max(action.option_strings, key=len), kind=_kind(action), type=action.type,
            choices=None if action.choices is None else tuple(action.choices), metavar=action.metavar,
            help=action.help, is_path=path is not None,
            keywords=path.keywords if path else (), must_exist=path.must_exist if path else True)
    return out


# -- manifest values -----------------------------------------------------------------------------------------

def _scalar_text(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise ValueError("must be a string or a number")
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    text = str(v).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def normalize_value(option: ModelOption, v: Any) -> Any:
    """A manifest (or command-line default) value in one JSON spelling: a switch is true/false; a value is the
    text the flag takes (a list of numbers or names is joined with commas, as on the command line: [-1, 1] ->
    "-1,1"); a repeatable flag is a list of texts (an object {"NAME": VALUE} is ["NAME=VALUE"], a list VALUE
    joined with commas). Raises ValueError for values of the wrong shape; the flag's own parsing checks the rest."""
    if option.kind == "switch":
        if not isinstance(v, bool):
            raise ValueError("must be true or false")
        return v
    if option.kind == "value":
        if isinstance(v, list | tuple):
            if not v:
                raise ValueError("must not be empty")
            return ",".join(_scalar_text(x) for x in v)
        return _scalar_text(v)
    if isinstance(v, Mapping):
        return [f"{k}={','.join(_scalar_text(x) for x in d) if isinstance(d, list | tuple) else _scalar_text(d)}"
                for k, d in v.items()]
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list | tuple):
        raise ValueError(f"must be a list of {option.metavar or 'values'} (or an object NAME: VALUE)")
    return [_scalar_text(x) for x in items]


def absolute_paths(option: ModelOption, value: Any, base: Path) -> Any:
    """A path option's normalized value (a text, or a list of them for a repeatable flag) with each relative path
    taken relative to `base` (a manifest's folder; the current folder for batch's command line), `~` expanded, and
    its keywords ("synthetic") kept as they are."""
    def absolute(text: str) -> str:
        if text in option.keywords:
            return text
        path = Path(text).expanduser()
        return str((path if path.is_absolute() else base / path).resolve())

    return absolute(value) if option.kind == "value" else [absolute(v) for v in value]


def _tokens(option: ModelOption, value: Any) -> list[str]:
    if option.kind == "switch":
        return [option.flag] if value else []
    if option.kind == "value":
        return [f"{option.flag}={value}"]
    return [f"{option.flag}={item}" for item in value]


def convert_argv(source: str, output: str, mode: QuantMode, options: Mapping[str, Any]) -> list[str]:
    """The `hub2lite convert` command line of one mode of a model (options: normalized manifest values)."""
    table = model_options()
    argv = ["convert", source, "-o", output, "--quantize", mode.value, "--force"]
    for key, value in options.items():
        if key in table:
            argv += _tokens(table[key], value)
    return argv


def convert_args(source: str, output: str, mode: QuantMode, options: Mapping[str, Any], *,
                 narrow: bool = True) -> argparse.Namespace:
    """convert's own parse of `convert_argv`; `narrow`: with the calibration data left out when `mode` takes none
    (convert's `job_from_args` leaves out the other settings that concern other modes only: ConvertConfig.for_mode).
    Raises ValueError with argparse's message for a value convert refuses."""
    from ..quantize.recipes import recipe_for

    try:
        args = _convert_parser().parse_args(convert_argv(source, output, mode, options))
    except _ParserError as exc:
        raise ValueError(str(exc)) from None
    if narrow and not recipe_for(mode).needs_calibration:
        args.calibration = None
    return args


def check_model_options(source: str, modes: Sequence[QuantMode], options: Mapping[str, Any]) -> None:
    """What convert would refuse for these modes, refused now: every value parsed by convert's parser, then
    convert's flag checks over all the modes (commands/convert.check_modes). Raises ValueError (a value) or a
    Hub2LiteError (a combination)."""
    from ..commands.convert import check_modes

    check_modes(convert_args(source, "model.tflite", modes[0], options, narrow=False), modes, flag="--modes")


# -- the batch command line's per-model defaults ---------------------------------------------------------------

def add_default_flags(group: Any) -> None:
    """Every per-model option as a flag of `hub2lite batch` (the same spelling, type and choices as convert's),
    whose value, when given, is the default of every manifest entry."""
    for option in model_options().values():
        kwargs: dict[str, Any] = {"dest": option.key, "default": argparse.SUPPRESS, "help": option.help}
        if option.kind == "switch":
            kwargs["action"] = "store_true"
        else:
            kwargs.update(type=option.type, choices=option.choices, metavar=option.metavar)
            if option.kind == "list":
                kwargs["action"] = "append"
        group.add_argument(option.flag, **kwargs)
