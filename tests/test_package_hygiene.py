"""Package-level contracts: light imports and complete, sorted public APIs."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ["fedlite", "edge_sdk", "edge_sdk.wire", "server", "converters"]


@pytest.mark.parametrize("package", ["edge_sdk", "edge_sdk.wire", "server", "fedlite"])
def test_import_does_not_load_tensorflow_or_a_runtime(package: str) -> None:
    code = (
        f"import sys, {package}; "
        "heavy = [m for m in ('tensorflow', 'keras', 'ai_edge_litert', 'tflite_runtime') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import {package} loaded {out.stdout.strip()}"


@pytest.mark.parametrize("package", PACKAGES)
def test_public_api_is_sorted_and_resolves(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == sorted(names), f"{package}.__all__ is not sorted"
    missing = [name for name in names if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names missing attributes: {missing}"


@pytest.mark.parametrize("package", PACKAGES)
def test_public_api_is_complete(package: str) -> None:
    module = importlib.import_module(package)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, type(sys))  # submodules are not API entries
        and name not in ("annotations",)
    }
    assert public <= set(module.__all__), f"{package} exports names not in __all__: {public - set(module.__all__)}"
