"""Model cards: `NAME.md` beside every .tflite hub2lite writes.

A card says where the model came from (source, resolved location, provenance, versions), what it takes and returns
(signature and shapes, image normalization and labels from its metadata), how it was made (recipe and converter
settings), how well it matches the original (validation metrics, labeled accuracy), what it costs (size, latency)
and the command that reproduces it. `ModelCard` holds plain values (the `to_dict()` forms of the stage results);
`render_model_card` turns it into Markdown; nothing here imports TensorFlow.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .metadata.spec import ModelMetadata
from .specs import TensorSpec

__all__ = ["ModelCard", "render_model_card", "model_card_path", "command_line", "card_from_report"]


def model_card_path(model: str | os.PathLike[str]) -> Path:
    """NAME.md beside NAME.tflite."""
    p = Path(model)
    return p.with_name(p.stem + ".md")


def command_line(argv: Sequence[str], program: str = "hub2lite") -> str:
    """The shell command that reproduces a run, quoted for POSIX shells."""
    return " ".join([program, *(shlex.quote(str(a)) for a in argv)])


@dataclass(frozen=True)
class ModelCard:
    name: str
    model_path: str
    size_bytes: int
    sha256: str = ""
    source: Mapping[str, Any] = field(default_factory=dict)  # {"source", "kind", "handle", "path", "provenance"}
    signature: str | None = None
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    family: str | None = None
    recipe: Mapping[str, Any] = field(default_factory=dict)  # {"mode"|"name", "description", ...}
    converter_settings: Mapping[str, Any] = field(default_factory=dict)
    ops: Mapping[str, int] = field(default_factory=dict)
    validation: Mapping[str, Any] | None = None  # ValidationReport.to_dict()
    accuracy: Mapping[str, Any] | None = None  # Accuracy.to_dict()
    latency: Mapping[str, Any] | None = None  # LatencyStats.to_dict()
    metadata: ModelMetadata | None = None
    metadata_notes: tuple[str, ...] = ()
    versions: Mapping[str, str] = field(default_factory=dict)
    command: str = ""
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model_path": self.model_path, "size_bytes": self.size_bytes,
                "sha256": self.sha256, "source": dict(self.source), "signature": self.signature,
                "inputs": [s.to_dict() for s in self.inputs], "outputs": [s.to_dict() for s in self.outputs],
                "family": self.family, "recipe": dict(self.recipe), "converter_settings": dict(self.converter_settings),
                "ops": dict(self.ops), "validation": None if self.validation is None else dict(self.validation),
                "accuracy": None if self.accuracy is None else dict(self.accuracy),
                "latency": None if self.latency is None else dict(self.latency),
                "metadata": None if self.metadata is None else self.metadata.to_dict(),
                "metadata_notes": list(self.metadata_notes), "versions": dict(self.versions),
                "command": self.command, "notes": list(self.notes)}


def _size(n: int) -> str:
    if n >= 1024**2:
        return f"{n / 1024**2:.2f} MiB"
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} B"


def _num(x: Any, fmt: str = ".3g") -> str:
    return "—" if x is None else format(x, fmt) if isinstance(x, (int, float)) else str(x)


def _pct(x: Any) -> str:
    return "—" if x is None else f"{100 * float(x):.1f}%"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _source_section(card: ModelCard) -> list[str]:
    src = dict(card.source)
    lines = ["## Source", ""]
    lines.append(f"- source: `{_cell(src.get('source') or src.get('handle') or '?')}`"
                 + (f" ({src['kind']})" if src.get("kind") else ""))
    if src.get("handle") and src.get("handle") != src.get("source"):
        lines.append(f"- handle: `{_cell(src['handle'])}`")
    for key, value in sorted((src.get("provenance") or {}).items()):
        lines.append(f"- {key.replace('_', ' ')}: `{_cell(value)}`")
    if card.family:
        lines.append(f"- family: {card.family}")
    if card.versions:
        lines.append("- made with: " + ", ".join(f"{k} {v}" for k, v in sorted(card.versions.items())))
    return lines + [""]


def _signature_section(card: ModelCard) -> list[str]:
    lines = ["## Signature", "", f"Signature `{card.signature or '(subgraph 0)'}`.", "",
             "| | name | dtype | shape | description |", "|---|---|---|---|---|"]
    meta = card.metadata
    for role, specs in (("input", card.inputs), ("output", card.outputs)):
        for s in specs:
            described = (meta.input(s.name) if role == "input" else meta.output(s.name)) if meta else None
            text = described.description if described is not None else ""
            lines.append(f"| {role} | `{_cell(s.name)}` | {s.dtype} | {s.shape_str} | {_cell(text)} |")
    return lines + [""]


def _metadata_section(card: ModelCard) -> list[str]:
    meta = card.metadata
    if meta is None:
        return ["## Metadata", "", "No TFLite metadata embedded (convert with `--metadata` to embed labels, "
                "normalization and descriptions).", ""]
    lines = ["## Metadata", "", f"Embedded TFLite metadata: name `{_cell(meta.name)}`"
             + (f", version `{_cell(meta.version)}`" if meta.version else "") + ".", ""]
    if meta.description:
        lines += [f"> {_cell(meta.description)}", ""]
    for inp in meta.inputs:
        if inp.image is not None:
            im = inp.image
            lo, hi = im.value_range()
            lines.append(f"- input `{_cell(inp.name)}`: {im.color.value} image {im.height}×{im.width}, "
                         f"normalization mean {list(im.mean)} std {list(im.std)} → [{lo:.4g}, {hi:.4g}]")
    for out in meta.outputs:
        lab = ""
        if out.labels:
            first = ", ".join(out.labels[:5]) + (", …" if len(out.labels) > 5 else "")
            lab = f"; {len(out.labels)} labels ({_cell(first)})"
        lines.append(f"- output `{_cell(out.name)}`: {out.kind.value}{lab}")
    lines += [f"- note: {_cell(n)}" for n in card.metadata_notes]
    return lines + [""]


def _recipe_section(card: ModelCard) -> list[str]:
    recipe = dict(card.recipe)
    name = recipe.get("name") or recipe.get("mode") or "float32"
    lines = ["## Recipe", "", f"- recipe: `{_cell(name)}`" + (f" — {_cell(recipe['description'])}"
                                                              if recipe.get("description") else "")]
    for key, value in sorted(card.converter_settings.items()):
        lines.append(f"- {key.replace('_', ' ')}: `{_cell(value)}`")
    if card.ops:
        lines.append("- ops: " + ", ".join(f"{op} ×{n}" for op, n in sorted(card.ops.items())))
    return lines + [""]


def _validation_section(card: ModelCard) -> list[str]:
    v = card.validation
    lines = ["## Validation", ""]
    if v is None:
        return lines + ["Not validated (`--no-validate`).", ""]
    inputs = v.get("inputs") or {}
    lines.append(f"**{'PASS' if v.get('passed') else 'FAIL'}** — mode {v.get('mode', '?')}, {v.get('samples', '?')} "
                 f"sample(s) from {inputs.get('source', '?')}; runtimes: "
                 + ", ".join(f"{k} {val}" for k, val in (v.get("runtimes") or {}).items()) + ".")
    lines += ["", "| output | kind | max abs error | cosine (worst) | SNR dB | top-1 agreement | passed |",
              "|---|---|---|---|---|---|---|"]
    for o in v.get("outputs") or ():
        lines.append(f"| `{_cell(o.get('name'))}` | {o.get('kind', '')} | {_num(o.get('max_abs'))} | "
                     f"{_num(o.get('cosine'), '.6f')} | {_num(o.get('snr_db'), '.1f')} | "
                     f"{_pct(o.get('top1_agreement'))} | {'yes' if o.get('passed') else 'NO'} |")
    lines += [f"- failure: {_cell(f)}" for f in v.get("failures") or ()]
    return lines + [""]


def _accuracy_section(card: ModelCard) -> list[str]:
    a = card.accuracy or ((card.validation or {}).get("accuracy"))
    if not a:
        return []
    classes = f", {a['classes']} classes" if a.get("classes") else ""
    text = (f"On {a.get('samples')} labeled samples (output `{_cell(a.get('output'))}`{classes}): "
            f"top-1 {_pct(a.get('top1_original'))} original → {_pct(a.get('top1_tflite'))} .tflite "
            f"(drop {_pct(a.get('top1_drop'))})")
    if a.get("top5_original") is not None:
        text += f"; top-{a.get('k', 5)} {_pct(a.get('top5_original'))} → {_pct(a.get('top5_tflite'))}"
    return ["## Labeled accuracy", "", text + ".", ""]


def _cost_section(card: ModelCard) -> list[str]:
    lines = ["## Size and latency", "", f"- size: {_size(card.size_bytes)} ({card.size_bytes} bytes)"]
    if card.sha256:
        lines.append(f"- sha256: `{card.sha256}`")
    lat = card.latency
    if lat:
        lines.append(f"- latency: p50 {_num(lat.get('p50_ms'), '.3f')} ms, p90 {_num(lat.get('p90_ms'), '.3f')} ms, "
                     f"mean {_num(lat.get('mean_ms'), '.3f')} ms ({lat.get('runs', '?')} runs, "
                     f"{lat.get('threads', '?')} thread(s), {lat.get('runtime', '?')})")
    else:
        lines.append("- latency: not measured here (`hub2lite bench " + _cell(Path(card.model_path).name) + "`)")
    return lines + [""]


def render_model_card(card: ModelCard) -> str:
    """The card as Markdown."""
    lines = [f"# {card.name}", "", f"`{_cell(Path(card.model_path).name)}` — a TensorFlow Lite model written by "
             "hub2lite.", ""]
    lines += _source_section(card) + _signature_section(card) + _metadata_section(card) + _recipe_section(card)
    lines += _validation_section(card) + _accuracy_section(card) + _cost_section(card)
    if card.notes:
        lines += ["## Notes", ""] + [f"- {_cell(n)}" for n in card.notes] + [""]
    if card.command:
        lines += ["## Reproduce", "", "```bash", card.command, "```", ""]
    return "\n".join(lines)


def card_from_report(report: Mapping[str, Any], *, metadata: ModelMetadata | None = None,
                     metadata_notes: Sequence[str] = (), command: str = "",
                     latency: Mapping[str, Any] | None = None, name: str | None = None) -> ModelCard:
    """The card of a model described by a `hub2lite.convert/1` report (also what sweep and optimize record per
    model: the same keys under "source", "conversion", "validation", "output", "versions")."""
    conversion = report.get("conversion") or {}
    output = report.get("output") or {}
    validation = report.get("validation")
    sig = conversion.get("signature") or {}
    inputs = tuple(TensorSpec.from_dict(s) for s in conversion.get("inputs") or sig.get("inputs") or ())
    outputs = tuple(TensorSpec.from_dict(s) for s in sig.get("outputs") or ())
    family = (conversion.get("family") or {}).get("family")
    path = str(output.get("path", ""))
    notes = tuple(conversion.get("notes") or ()) + tuple(report.get("notes") or ())
    return ModelCard(name=name or Path(path).stem, model_path=path, size_bytes=int(output.get("size_bytes", 0)),
                     sha256=str(output.get("sha256", "")), source=dict(report.get("source") or {}),
                     signature=sig.get("name"), inputs=inputs, outputs=outputs, family=family,
                     recipe=dict(conversion.get("recipe") or {}),
                     converter_settings=dict(conversion.get("converter_settings") or {}),
                     ops=dict(conversion.get("tflite_ops") or {}), validation=validation,
                     accuracy=(validation or {}).get("accuracy"), latency=latency, metadata=metadata,
                     metadata_notes=tuple(metadata_notes),
                     versions={k: v for k, v in (report.get("versions") or {}).items() if v},
                     command=command, notes=notes)
