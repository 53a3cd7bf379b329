"""``fedlite convert MODEL.keras -o OUT.tflite --loss NAME --optimizer NAME ...``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from converters.losses import LOSSES
from converters.optimizers import OPTIMIZERS


def _positive(kind: type, noun: str) -> Callable[[str], float]:
    """An argparse ``type`` accepting only positive values of ``kind`` (int or float)."""
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {noun}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be a positive {noun}, got {text}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fedlite convert",
        description="Convert a Keras model into a .tflite model that trains on the stock TFLite interpreter.")
    p.add_argument("model", help="Keras model file (.keras or .h5)")
    p.add_argument("-o", "--output", required=True, help="output .tflite path (OUT.manifest.json is written beside it)")
    p.add_argument("--loss", required=True, help=f"Keras loss name: {', '.join(LOSSES)}")
    p.add_argument("--optimizer", default="sgd", help=f"{' or '.join(OPTIMIZERS)} (default: sgd)")
    p.add_argument("--learning-rate", type=_positive(float, "number"), default=0.01, help="initial learning rate (default: 0.01)")
    p.add_argument("--batch-size", type=_positive(int, "integer"), default=32, help="static training batch size B (default: 32)")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default: 0)")
    p.add_argument("--nesterov", action="store_true", help="Nesterov momentum for SGD")
    p.add_argument("--freeze-until", metavar="LAYER", help="freeze layers up to and including LAYER (baked as constants)")
    p.add_argument("--allow-flex", action="store_true", help="allow TensorFlow (Flex) ops for layers builtins cannot express")
    p.add_argument("--model-id", help="model id in the manifest (default: the Keras model's name)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the conversion; user errors print one line and return 2, a failed parity check returns 1."""
    args = parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from converters.convert import ConvertOptions, convert_file
    from converters.errors import ConversionError
    from converters.report import summary
    from edge_sdk._lazy import MissingDependencyError

    try:
        options = ConvertOptions(
            loss=args.loss, optimizer=args.optimizer, learning_rate=args.learning_rate, batch_size=args.batch_size,
            momentum=args.momentum, nesterov=args.nesterov, freeze_until=args.freeze_until,
            allow_flex=args.allow_flex, model_id=args.model_id)
        result = convert_file(args.model, args.output, options)
    except (ConversionError, MissingDependencyError, OSError) as exc:
        print(f"fedlite convert: error: {exc}", file=sys.stderr)
        return 2
    print(summary(result))
    if not result.parity.passed:
        print("fedlite convert: error: the parity check failed; nothing was written", file=sys.stderr)
        return 1
    print(f"wrote {args.output} and its manifest")
    return 0
