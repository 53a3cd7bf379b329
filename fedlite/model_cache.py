"""The example model (the digits CNN of :mod:`fedlite.examples`), converted once and cached on disk.

Only the conversion needs TensorFlow (the ``convert`` extra); training, serving and evaluation
use the converted file. It is cached in ``$FEDLITE_CACHE_DIR`` (default ``$XDG_CACHE_HOME/fedlite``,
else ``~/.cache/fedlite``) under a name that changes when the example model, the converter or the
conversion options change. The conversion runs in a child process
(``python -m fedlite.model_cache OUT``), so TensorFlow is never loaded by the demo or the simulator.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from edge_sdk._lazy import MissingDependencyError

# The fedlite convert options of the example model: Adam on the device, static batch 32.
RECIPE = {"loss": "sparse_categorical_crossentropy", "optimizer": "adam", "learning_rate": 0.005, "batch_size": 32}
TF_HINT = "install it with: pip install 'fedlite[convert]'"
EXIT_MISSING_DEPENDENCY = 3
# (package, files) whose source decides the converted bytes.
SOURCES = (("fedlite", ("examples.py",)), ("converters", ("*.py",)), ("edge_sdk", ("wire/manifest.py", "wire/tflite_file.py")))


class ExampleModelError(RuntimeError):
    """Converting the example model failed; the message says why."""


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where converted models are cached."""
    env = os.environ if environ is None else environ
    if env.get("FEDLITE_CACHE_DIR"):
        return Path(env["FEDLITE_CACHE_DIR"])
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "fedlite"


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ExampleModelError(f"package {package} is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def recipe_key() -> str:
    """A short hash of the conversion options and of every source file the converted model depends on."""
    digest = hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode())
    for package, patterns in SOURCES:
        root = _package_dir(package)
        for path in sorted(p for pattern in patterns for p in root.glob(pattern)):
            digest.update(f"{package}/{path.relative_to(root)}".encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def cached_model_path(cache: Path | None = None) -> Path:
    """The path the converted example model has (or will have) in the cache."""
    return (cache or cache_dir()) / f"digits_cnn-{recipe_key()}.tflite"


def ensure_example_model(cache: Path | None = None) -> tuple[Path, bool]:
    """The cached converted example model, converting it first if needed; (path, whether it was converted).

    Raises :class:`MissingDependencyError` when a conversion is needed and TensorFlow is missing,
    :class:`ExampleModelError` when the conversion fails.
    """
    target = cached_model_path(cache)
    if target.is_file():
        return target, False
    missing_tf = MissingDependencyError(
        f"converting the example model needs TensorFlow, and no converted copy is cached in {target.parent}; {TF_HINT}")
    if importlib.util.find_spec("tensorflow") is None:
        raise missing_tf
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        status, message = _convert_in_child(partial)
        if status == EXIT_MISSING_DEPENDENCY:
            raise missing_tf
        if status != 0:
            raise ExampleModelError(f"converting the example model failed: {message}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target, True


def _convert_in_child(out: Path) -> tuple[int, str]:
    """Run the conversion in a child process; (its exit status, the last line it printed)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-m", "fedlite.model_cache", str(out)], env=env,
                            capture_output=True, text=True, start_new_session=True)
    lines = (result.stderr or result.stdout).strip().splitlines() or [f"exit status {result.returncode}"]
    return result.returncode, lines[-1]


def main(argv: Sequence[str] | None = None) -> int:
    """Convert the example model to the path given as the only argument (run by :func:`ensure_example_model`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m fedlite.model_cache OUT.tflite", file=sys.stderr)
        return 2
    try:
        from converters import ConvertOptions, convert_model
        from fedlite.examples import digits_cnn

        result = convert_model(digits_cnn(), ConvertOptions(**RECIPE))
    except ImportError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_MISSING_DEPENDENCY
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if not result.parity.passed:
        print("the converted model failed its TensorFlow/TFLite parity check", file=sys.stderr)
        return 1
    Path(args[0]).write_bytes(result.model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
