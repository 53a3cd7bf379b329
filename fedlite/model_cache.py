"""The example models, converted once and cached on disk: how the demo, the simulator, the
benchmarks and the tests get a trainable ``.tflite``.

A recipe is a builder in :mod:`fedlite.examples` (its name) and the :class:`converters.ConvertOptions`
fields to convert it with. Its files live in ``CACHE/NAME-KEY/``: ``NAME.tflite``, the converter's
``NAME.manifest.json`` side-car and the ``NAME.keras`` it was converted from. KEY hashes the recipe
and every source file the converted bytes depend on, so a changed converter, builder or option is
never served from a stale copy.

Only the conversion needs TensorFlow. It runs the converter's ``convert_file`` in a child process
(``python -m fedlite.model_cache NAME OPTIONS_JSON OUT_DIR``), so callers never load TensorFlow;
under a lock on the cache directory, so concurrent processes convert once; into a temporary
directory renamed into place last, so a failed or interrupted conversion leaves nothing behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edge_sdk._lazy import MissingDependencyError, import_optional

LOSS = "sparse_categorical_crossentropy"
# builder name in fedlite.examples → its converters.ConvertOptions fields
RECIPES: dict[str, dict[str, Any]] = {
    "digits_cnn": {"loss": LOSS, "optimizer": "adam", "learning_rate": 0.005, "batch_size": 32},
    "digits_mlp": {"loss": LOSS, "optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "batch_size": 32},
    "mlp100k": {"loss": LOSS, "optimizer": "sgd", "learning_rate": 0.01, "batch_size": 32},
}
SOURCE_ROOT = Path(__file__).resolve().parents[1]
# Under SOURCE_ROOT, what decides the converted bytes: the converter, the wire formats it embeds, the
# runtime of its parity check (whose report is in the manifest), the builders and this module.
SOURCES = ("converters/**/*.py", "edge_sdk/model.py", "edge_sdk/runtime.py", "edge_sdk/wire/manifest.py",
           "edge_sdk/wire/tflite_file.py", "fedlite/examples.py", "fedlite/model_cache.py")
TF_HINT = "'fedlite[convert]'"
EXIT_MISSING_DEPENDENCY = 3


class ExampleModelError(RuntimeError):
    """Converting an example model failed; the message says why."""


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The default cache: ``$FEDLITE_CACHE_DIR``, else ``$XDG_CACHE_HOME/fedlite``, else ``~/.cache/fedlite``."""
    env = os.environ if environ is None else environ
    if env.get("FEDLITE_CACHE_DIR"):
        return Path(env["FEDLITE_CACHE_DIR"])
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "fedlite"


def source_files(root: Path = SOURCE_ROOT) -> list[Path]:
    """The files under ``root`` matched by :data:`SOURCES`, sorted."""
    return sorted({path for pattern in SOURCES for path in root.glob(pattern) if path.is_file()})


def recipe_key(name: str, root: Path = SOURCE_ROOT) -> str:
    """A short hash of recipe ``name`` and of the content of every file of :func:`source_files`."""
    digest = hashlib.sha256(json.dumps([name, _recipe(name)], sort_keys=True).encode())
    for path in source_files(root):
        data = path.read_bytes()
        digest.update(f"{path.relative_to(root).as_posix()}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()[:16]


def cached_model_path(name: str, cache: Path | None = None) -> Path:
    """Where the converted model ``name`` is (or will be) cached: ``CACHE/NAME-KEY/NAME.tflite``."""
    return (cache_dir() if cache is None else cache) / f"{name}-{recipe_key(name)}" / f"{name}.tflite"


def ensure_model(name: str, cache: Path | None = None) -> tuple[Path, bool]:
    """The cached converted model ``name``, converting it first if needed; (path, whether this call converted it).

    ``cache`` defaults to :func:`cache_dir`. Raises ValueError for an unknown name,
    :class:`MissingDependencyError` when a conversion is needed and TensorFlow is missing,
    :class:`ExampleModelError` when the conversion fails.
    """
    target = cached_model_path(name, cache)
    if target.is_file():
        return target, False
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent.parent):
        if target.is_file():  # converted by another process while this one waited
            return target, False
        _convert(name, target.parent)
    return target, True


def _recipe(name: str) -> dict[str, Any]:
    if name not in RECIPES:
        raise ValueError(f"no example model {name!r}; choose one of {', '.join(RECIPES)}")
    return RECIPES[name]


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory``; another process's lock waits until this one ends."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _convert(name: str, published: Path) -> None:
    """Convert ``name`` in a child process into a temporary directory, then rename it to ``published``."""
    staging = Path(tempfile.mkdtemp(prefix=f".{published.name}.", dir=published.parent)).resolve()
    try:
        status, message = _run_child(name, staging)
        if status == EXIT_MISSING_DEPENDENCY:
            raise MissingDependencyError(
                f"converting the example model {name} needs TensorFlow, and no converted copy is cached in "
                f"{published.parent}; install it with: pip install {TF_HINT}")
        if status != 0:
            raise ExampleModelError(f"converting the example model {name} failed: {message}")
        shutil.rmtree(published, ignore_errors=True)  # a damaged copy (its .tflite deleted by hand)
        staging.rename(published)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _run_child(name: str, out: Path) -> tuple[int, str]:
    """Run :func:`main` in a child process importing the hashed sources; (exit status, last line printed)."""
    command = [sys.executable, "-m", "fedlite.model_cache", name, json.dumps(RECIPES[name]), str(out)]
    result = subprocess.run(command, cwd=SOURCE_ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                            capture_output=True, text=True, start_new_session=True)
    lines = (result.stderr or result.stdout).strip().splitlines() or [f"exit status {result.returncode}"]
    return result.returncode, lines[-1]


def _convert_example(name: str, options: Mapping[str, Any], out: Path) -> Any:
    """Build ``fedlite.examples.<name>``, save it as ``out/NAME.keras`` and convert that file with
    ``options`` to ``out/NAME.tflite`` (and its side-car manifest); the :class:`converters.ConversionResult`."""
    import_optional("tensorflow", TF_HINT)
    from converters import ConvertOptions, convert_file
    from fedlite import examples

    keras_path = out / f"{name}.keras"
    getattr(examples, name)().save(keras_path)
    return convert_file(keras_path, out / f"{name}.tflite", ConvertOptions(**options))


def main(argv: Sequence[str] | None = None) -> int:
    """``NAME OPTIONS_JSON OUT_DIR``: :func:`_convert_example` (run by :func:`ensure_model` in a child process)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3:
        print("usage: python -m fedlite.model_cache NAME OPTIONS_JSON OUT_DIR", file=sys.stderr)
        return 2
    try:
        result = _convert_example(args[0], json.loads(args[1]), Path(args[2]))
    except ImportError as exc:  # TensorFlow or Keras (the convert extra) is missing
        print(str(exc), file=sys.stderr)
        return EXIT_MISSING_DEPENDENCY
    except ValueError as exc:  # ConversionError: the message names what was wrong
        print(str(exc), file=sys.stderr)
        return 1
    if not result.parity.passed:
        print("the converted model failed its TensorFlow/TFLite parity check", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
