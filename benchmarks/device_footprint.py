"""Device footprint: install size, FedLite's own share of it, import time, and peak RSS of a round.

    python benchmarks/device_footprint.py [--json FILE] [--keep DIR]

Creates a FRESH virtual environment, installs the device's base dependencies (numpy, requests,
cryptography, ai-edge-litert — no TensorFlow) and measures them as the baseline; then installs
FedLite itself from a copy of this checkout and measures again: the difference is what FedLite
adds, and any new distribution besides ``fedlite`` would be a dependency it drags in. Import
time is the median of several fresh interpreters, with ``import numpy`` as the baseline. Peak
RSS is that of one ``fedlite device --once`` process that goes through a
whole round (enrol, check-in, download, one epoch of the digits CNN on ~1350 examples, encode,
upload) against a live server on loopback, read from the process's own VmHWM; the baseline is a
process that only imports ``edge_sdk`` and loads the TFLite runtime.

Targets (x86_64): install <= 175 MB, FedLite's addition <= 5 MB, round peak RSS <= 100 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BASE_DEPENDENCIES = ("numpy>=1.23", "requests>=2.31", "cryptography>=41", "ai-edge-litert>=1.2")
TOOLING = ("pip", "setuptools", "wheel", "_distutils_hack", "pkg_resources", "distutils-precedence.pth")
TARGETS = {"install_mb": 175.0, "fedlite_extra_mb": 5.0, "round_peak_rss_mb": 100.0}
IMPORT_RUNS = 7
MB = 1e6


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def _is_tooling(name: str) -> bool:
    return name.split("-")[0].lower() in TOOLING or name in TOOLING


def installed_bytes(venv: Path) -> int:
    """Bytes of every file in site-packages except pip/setuptools/wheel and their metadata."""
    total = 0
    for entry in site_packages(venv).iterdir():
        if _is_tooling(entry.name):
            continue
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        total += sum(p.stat().st_size for p in files)
    return total


def distributions(venv: Path) -> set[str]:
    names = {p.name.split("-")[0].lower() for p in site_packages(venv).glob("*.dist-info")}
    return {name for name in names if not _is_tooling(name)}


def copy_project(target: Path) -> Path:
    """The files a wheel build needs, so building never writes into the checkout."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, target)
    for package in ("fedlite", "edge_sdk", "server", "converters"):
        shutil.copytree(REPO / package, target / package, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def install(work: Path) -> dict[str, object]:
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, *BASE_DEPENDENCIES])
    base_bytes, base_dists = installed_bytes(venv), distributions(venv)
    run([*pip, str(copy_project(work / "src"))])
    total_bytes, dists = installed_bytes(venv), distributions(venv)
    return {"venv": venv, "base_mb": base_bytes / MB, "install_mb": total_bytes / MB,
            "fedlite_extra_mb": (total_bytes - base_bytes) / MB, "new_distributions": sorted(dists - base_dists)}


def median_seconds(python: Path, statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    return statistics.median(float(run([str(python), "-c", code], cwd="/").stdout) for _ in range(IMPORT_RUNS))


# Runs CODE (argv[1]) and, at exit, writes the process's VmHWM (peak RSS since exec, in kB) to
# the file named by $FOOTPRINT_HWM. The kernel's ru_maxrss would also count the pages of the big
# benchmark process the child was forked from.
HWM_WRAPPER = """
import atexit, os, sys
def write_peak():
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    open(os.environ["FOOTPRINT_HWM"], "w").write(line.split()[1])
atexit.register(write_peak)
code, sys.argv = sys.argv[1], sys.argv[1:]
exec(code)
"""
RUN_CLI = "import runpy; runpy.run_module('fedlite', run_name='__main__', alter_sys=True)"
LOAD_RUNTIME = "import edge_sdk, edge_sdk.runtime as r; r.load_runtime()"


def peak_rss_mb(python: Path, code: str, args: list[str], work: Path) -> tuple[float, str]:
    """Peak RSS (MB) of ``python`` running ``code`` with ``args`` to completion, and its output."""
    hwm = work / "hwm.txt"
    env = {**os.environ, "FOOTPRINT_HWM": str(hwm)}
    done = subprocess.run([str(python), "-c", HWM_WRAPPER, code, *args], capture_output=True, text=True,
                          env=env, cwd="/")
    if done.returncode != 0:
        raise RuntimeError(f"{python} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return int(hwm.read_text()) * 1024 / MB, done.stdout


def round_rss(python: Path, work: Path) -> dict[str, float]:
    import numpy as np

    from fedlite.examples import load_digits_split
    from fedlite.model_cache import ensure_model
    from tests.support.live_server import LiveServer

    x, y, _, _ = load_digits_split()
    np.savez(work / "digits.npz", x=x, y=y)
    baseline, _ = peak_rss_mb(python, LOAD_RUNTIME, [], work)
    with LiveServer(ensure_model("digits_cnn")[0], work / "server", ["--round-size", "1", "--epochs", "1"]) as server:
        args = ["device", "--server", server.url, "--ca", server.ca, "--token", server.create_token(),
                "--data", str(work / "digits.npz"), "--state-dir", str(work / "state"), "--once", "--log-format", "json"]
        peak, output = peak_rss_mb(python, RUN_CLI, args, work)
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    uploads = [e for e in events if e["event"] == "upload"]
    if not uploads:
        raise RuntimeError(f"the device finished without uploading:\n{output}")
    return {"round_peak_rss_mb": peak, "runtime_loaded_rss_mb": baseline, "upload_bytes": uploads[0]["bytes"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="fedlite-footprint-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        installed = install(work)
        python = installed.pop("venv") / "bin" / "python"  # type: ignore[operator]
        results = {
            **installed,
            "import_s": median_seconds(python, "import edge_sdk"),
            "import_numpy_s": median_seconds(python, "import numpy"),
            **round_rss(python, work),
            "machine": f"{platform.machine()} {platform.system()} Python {platform.python_version()}",
        }
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print_table(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if within_targets(results) else 1


def within_targets(results: dict[str, object]) -> bool:
    meets = all(float(results[key]) <= limit for key, limit in TARGETS.items())  # type: ignore[arg-type]
    return meets and results["new_distributions"] == ["fedlite"]


def print_table(results: dict[str, object]) -> None:
    def target(key: str) -> str:
        return f"<= {TARGETS[key]:g} MB"

    rows = [
        ("site-packages, base dependencies only", f"{results['base_mb']:.1f} MB", "baseline"),
        ("site-packages with FedLite (install_mb)", f"{results['install_mb']:.1f} MB", target("install_mb")),
        ("FedLite's addition (fedlite_extra_mb)", f"{results['fedlite_extra_mb']:.2f} MB", target("fedlite_extra_mb")),
        ("distributions FedLite adds", ", ".join(results["new_distributions"]), "fedlite only"),  # type: ignore[arg-type]
        ("import numpy", f"{results['import_numpy_s'] * 1000:.0f} ms", "baseline"),
        ("import edge_sdk (import_s)", f"{results['import_s'] * 1000:.0f} ms", ""),
        ("RSS: edge_sdk + runtime loaded", f"{results['runtime_loaded_rss_mb']:.1f} MB", "baseline"),
        ("RSS: one full round (round_peak_rss_mb)", f"{results['round_peak_rss_mb']:.1f} MB", target("round_peak_rss_mb")),
        ("update uploaded", f"{results['upload_bytes']} bytes", ""),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"device footprint on {results['machine']}")
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:>14}  {target}")


if __name__ == "__main__":
    raise SystemExit(main())
