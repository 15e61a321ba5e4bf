"""Selective quantization's name matching: layer names from a per-layer report onto a model's op outputs (int8 then
keeps those ops float through `flatgraph.finish`'s denylist). Used by convert (`float_nodes`) and
the debugger."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..errors import ConfigError

__all__ = ["resolve_nodes", "canonical_name"]


def canonical_name(name: str) -> frozenset[str]:
    """A tensor name without what changes between two traces of the same function: the call-site prefixes
    (`StatefulPartitionedCall/...`) and the uniquifying digits the converter appends (`;1`, `convolution1`)."""
    parts = set()
    for part in name.split(";"):
        part = part.rsplit("StatefulPartitionedCall/", 1)[-1].rstrip("0123456789")
        if part and not part.endswith("/"):
            parts.add(part)
    return frozenset(parts)


def resolve_nodes(requested: Iterable[str], known: Sequence[str]) -> list[str]:
    """Map node names (e.g. from a per-layer report) onto this model's op output names: exactly, else by
    `canonical_name` form when that names exactly one op. Raises ConfigError naming the unknown ones."""
    known_set = set(known)
    by_key: dict[frozenset[str], list[str]] = {}
    for n in known:
        by_key.setdefault(canonical_name(n), []).append(n)
    out, unknown = [], []
    for n in dict.fromkeys(requested):
        if n in known_set:
            out.append(n)
            continue
        match = by_key.get(canonical_name(n), [])
        if len(match) == 1:
            out.append(match[0])
        else:
            unknown.append(n)
    if unknown:
        shown = ", ".join(repr(n) for n in known[:4])
        raise ConfigError(f"float node(s) {unknown} are not op outputs of this model",
                          hint=f"use names from the per-layer report (`validate --per-layer`), e.g. {shown}")
    return out
