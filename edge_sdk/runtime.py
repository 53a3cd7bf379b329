"""Load a TFLite interpreter from whichever runtime is installed.

Tries, in order, ``ai_edge_litert`` (the maintained LiteRT wheels), ``tflite_runtime`` (the
legacy wheels, e.g. 2.14 on 32-bit ARM) and ``tensorflow.lite``. Nothing is imported until a
model is opened.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from edge_sdk._lazy import MissingDependencyError

__all__ = ["RUNTIME_CANDIDATES", "RuntimeInfo", "load_runtime", "open_interpreter"]

# (module providing ``Interpreter``, distribution whose version is reported)
RUNTIME_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite_runtime.interpreter", "tflite-runtime"),
    ("tensorflow.lite.python.interpreter", "tensorflow"),  # tf.lite.Interpreter
)
INSTALL_HINT = "ai-edge-litert  (or tflite-runtime==2.14.0 with numpy<2 on 32-bit ARM)"


@dataclass(frozen=True)
class RuntimeInfo:
    """Which runtime module is in use and its version."""

    module: str
    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version}"


def _version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.lru_cache(maxsize=None)
def load_runtime(candidates: tuple[tuple[str, str], ...] = RUNTIME_CANDIDATES) -> tuple[ModuleType, RuntimeInfo]:
    """Import the first available runtime; raise MissingDependencyError if none is installed."""
    for module_name, distribution in candidates:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        return module, RuntimeInfo(module_name, distribution, _version(distribution))
    tried = ", ".join(name for name, _ in candidates)
    raise MissingDependencyError(f"no TFLite runtime found (tried {tried}); install one with: pip install {INSTALL_HINT}")


def open_interpreter(model: bytes, num_threads: int | None = None) -> tuple[Any, RuntimeInfo]:
    """A ready (tensors allocated) interpreter for ``model`` bytes, and the runtime's info."""
    module, info = load_runtime()
    interpreter = module.Interpreter(model_content=bytes(model), num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter, info
