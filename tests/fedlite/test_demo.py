"""``fedlite demo`` as a user runs it: a real subprocess with a real server and device processes over
HTTPS. Every test also checks that nothing it started outlives it: no process whose command line
mentions the test's directory, no file left in the demo's temporary directory."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fedlite.demo_run import DemoRun, Workspace
from fedlite.model_cache import cached_model_path
from fedlite.processes import ProcessGroup
from fedlite.progress import Progress
from fedlite.settings import RunSettings
from tests.conftest import REPO, subprocess_env


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(cmdline)
    return found


@pytest.fixture
def sandbox(tmp_path: Path, digits_cnn_tflite: Path) -> dict:
    """Paths and environment of one demo run: a model cache holding the converted example model
    (the fixture's conversion, with the demo's recipe), a private TMPDIR, an output directory."""
    cache, tmp = tmp_path / "cache", tmp_path / "tmp"
    tmp.mkdir()
    target = cached_model_path("digits_cnn", cache)
    target.parent.mkdir(parents=True)
    shutil.copyfile(digits_cnn_tflite, target)
    env = {**subprocess_env(), "FEDLITE_CACHE_DIR": str(cache), "TMPDIR": str(tmp)}
    return {"root": tmp_path, "tmp": tmp, "out": tmp_path / "out", "env": env}


def demo(sandbox: dict, *args: str, timeout: float = 150) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "fedlite", "demo", "--out", str(sandbox["out"]), *args]
    return subprocess.run(command, env=sandbox["env"], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def assert_nothing_left(sandbox: dict) -> None:
    assert processes_mentioning(str(sandbox["root"])) == []
    assert list(sandbox["tmp"].iterdir()) == []


def test_a_short_demo_trains_over_https_and_reports(sandbox: dict) -> None:
    summary_path = sandbox["root"] / "summary.json"
    result = demo(sandbox, "--devices", "3", "--rounds", "2", "--json", str(summary_path))
    assert result.returncode == 0, result.stderr
    summary = json.loads(summary_path.read_text())
    assert set(summary) == {"initial_accuracy", "final_accuracy", "rounds", "rounds_to_90", "devices",
                            "trainable_parameters", "accepted_updates", "uplink_bytes", "fp32_uplink_bytes",
                            "fp32_update_bytes", "uplink_bytes_per_update", "bits_per_param", "seconds"}
    assert (summary["rounds"], summary["devices"], summary["accepted_updates"]) == (2, 3, 6)
    assert 0 <= summary["final_accuracy"] <= 1 and summary["bits_per_param"] < 1
    assert 0 < 20 * summary["uplink_bytes"] < summary["fp32_uplink_bytes"]  # the default codec: ~43x smaller
    report = json.loads((sandbox["out"] / "report.json").read_text())
    assert [r["round"] for r in report["rounds"]] == [1, 2] and all(r["participants"] == 3 for r in report["rounds"])
    assert sum(r["uplink_bytes"] for r in report["rounds"]) == summary["uplink_bytes"]
    assert (sandbox["out"] / "report.html").read_text().count("<svg") == 2
    logs = sorted(p.name for p in (sandbox["out"] / "logs").iterdir())
    assert logs == ["device-01.err", "device-01.log", "device-02.err", "device-02.log", "device-03.err",
                    "device-03.log", "server.log"]
    events = [json.loads(line)["event"] for line in (sandbox["out"] / "logs" / "device-01.log").read_text().splitlines()]
    assert events[0] == "enrolled" and events.count("upload") == 2  # fedlite device --log-format json
    table = [line.split() for line in result.stdout.splitlines() if line[:5].strip().isdigit()]
    assert [row[:2] for row in table] == [["1", "3"], ["2", "3"]]
    assert "final accuracy:" in result.stdout and f"report: {sandbox['out'].resolve()}" in result.stdout
    assert_nothing_left(sandbox)


def test_ctrl_c_stops_every_process_and_removes_temporary_files(sandbox: dict) -> None:
    command = [sys.executable, "-m", "fedlite", "demo", "--out", str(sandbox["out"]), "--devices", "2", "--rounds", "500"]
    process = subprocess.Popen(command, env=sandbox["env"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        for line in process.stdout:  # the table header: the server and the devices are running
            if line.split()[:2] == ["round", "participants"]:
                break
        assert len(processes_mentioning(str(sandbox["tmp"]))) == 3
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130
    assert stderr.strip() == "fedlite demo: interrupted; the server and every device process were stopped"
    assert_nothing_left(sandbox)


def test_a_port_in_use_is_one_line_and_starts_nothing(sandbox: dict) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = demo(sandbox, "--port", str(port), timeout=60)
    assert result.returncode == 2
    assert result.stderr == (f"fedlite demo: port {port} on 127.0.0.1 is in use; "
                             "pick another with --port (0: any free port)\n")
    assert not sandbox["out"].exists()
    assert_nothing_left(sandbox)


@pytest.mark.parametrize("args, message", [
    (["--devices", "65"], "--devices 65: the demo runs a process per device, at most 64; "
                          "simulate larger fleets with fedlite simulate"),
    (["--codec", "int3"], "--codec 'int3' is not a codec; choose one of fp32, fp16, "),
    (["--alpha", "0"], "--alpha must be a positive number, got 0.0"),
    (["--port", "70000"], "--port must be in 0..65535, got 70000"),
])
def test_a_bad_option_is_one_line(sandbox: dict, args: list[str], message: str) -> None:
    result = demo(sandbox, *args, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"fedlite demo: {message}") and result.stderr.count("\n") == 1
    assert not sandbox["out"].exists()


def shadow(directory: Path, module: str) -> dict:
    """An environment in which importing ``module`` fails as if it were not installed."""
    package = directory / module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f'raise ImportError("No module named {module!r}")\n')
    return {"PYTHONPATH": f"{directory}{os.pathsep}{REPO}"}


def test_missing_server_dependencies_are_one_line(sandbox: dict) -> None:
    sandbox["env"].update(shadow(sandbox["root"] / "shadow", "uvicorn"))
    result = demo(sandbox, timeout=60)
    assert result.returncode == 2
    assert result.stderr == "fedlite demo: uvicorn is not installed; install it with: pip install 'fedlite[server]'\n"
    assert_nothing_left(sandbox)


def test_no_tensorflow_and_no_cached_model_is_one_line(sandbox: dict) -> None:
    sandbox["env"].update(shadow(sandbox["root"] / "shadow", "tensorflow"))
    sandbox["env"]["FEDLITE_CACHE_DIR"] = str(sandbox["root"] / "empty-cache")
    result = demo(sandbox, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("fedlite demo: converting the example model digits_cnn needs TensorFlow, and no "
                                    "converted copy is cached in ")
    assert result.stderr.endswith("install it with: pip install 'fedlite[convert]'\n")
    assert result.stderr.count("\n") == 1 and "server:" not in result.stdout  # stopped before any server
    assert not (sandbox["out"] / "logs").exists()
    assert list((sandbox["root"] / "empty-cache").iterdir()) == []  # no partial conversion left
    assert_nothing_left(sandbox)


def test_a_device_that_stops_is_reported_with_its_error_line_and_its_events_stay_json(tmp_path: Path) -> None:
    script = ("import sys; print('{\"event\": \"enrolled\"}'); "
              "sys.stderr.write('INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n'); "
              "sys.stderr.write('fedlite device: server answered 403 device_revoked\\n'); "
              "sys.stderr.write('INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n'); sys.exit(3)")
    stream = io.StringIO()
    with ProcessGroup() as children:
        run = DemoRun(RunSettings(devices=2), Workspace(tmp_path, tmp_path), children, Progress(stream, live=False))
        child = children.start("device-01", [sys.executable, "-c", script], log=tmp_path / "device-01.log",
                               errors=tmp_path / "device-01.err")
        child.wait(30)
        run._check_children()
    note = "device-01 stopped (exit status 3): fedlite device: server answered 403 device_revoked\n"
    assert stream.getvalue() == note  # the runtime's INFO lines are skipped
    assert (tmp_path / "device-01.log").read_text() == '{"event": "enrolled"}\n'
