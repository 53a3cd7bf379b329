"""The conversion summary printed by ``fedlite convert``: layers, parameters, ops, parity, size."""

from __future__ import annotations

from converters.convert import ConversionResult


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return [lines[0], "  ".join("-" * width for width in widths), *lines[1:]]


def layer_table(result: ConversionResult) -> list[str]:
    rows = [("layer", "type", "output shape", "parameters", "status")]
    for info in result.graph.layers:
        shape = "(" + ", ".join("B" if dim is None else str(dim) for dim in info.output_shape) + ")"
        status = "frozen" if info.frozen else ("trainable" if info.parameters else "")
        rows.append((info.name, info.kind, shape, f"{info.parameters:,}", status))
    return _table(rows)


def op_lines(result: ConversionResult) -> list[str]:
    counts = result.audit.op_counts
    builtin = ", ".join(f"{name}×{counts[name]}" for name in result.manifest.ops["builtin"])
    flex = result.manifest.ops["flex_ops"]
    lines = [f"op audit:    builtin only: {'yes' if result.audit.builtin_only else 'NO'}", f"  builtin:   {builtin}"]
    if flex:
        lines.append(f"  flex ops (need the Flex delegate): {', '.join(flex)}")
    return lines


def summary(result: ConversionResult) -> str:
    """The full multi-line summary."""
    manifest, parity = result.manifest, result.parity
    non_trainable = sum(w.size for w in manifest.weights if not w.trainable)
    verdict = "PASSED" if parity.passed else "FAILED"
    lines = [
        f"model:       {manifest.model_id}  ({manifest.task}, loss {manifest.loss['name']}, "
        f"optimizer {manifest.optimizer['name']} lr {manifest.optimizer['learning_rate']:g}, batch {manifest.batch_size})",
        "",
        *layer_table(result),
        "",
        f"parameters:  {manifest.num_trainable_parameters:,} trainable, {non_trainable:,} non-trainable, "
        f"{manifest.frozen_parameters:,} frozen (constants)",
        *op_lines(result),
        f"signatures:  {', '.join(manifest.signatures)}",
        f"parity:      {verdict} on {parity.runtime}: {parity.steps} train steps, max loss diff {parity.max_loss_diff:.2e}, "
        f"max weight diff {parity.max_weight_diff:.2e} ({parity.worst_weight}), correct counts "
        f"{'equal' if parity.correct_matches else 'DIFFER'}",
        f"  tolerance: {parity.tolerance}",
        f"file size:   {len(result.model):,} bytes",
    ]
    return "\n".join(lines)
