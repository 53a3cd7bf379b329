"""``fedlite serve`` and ``fedlite admin``: configuration, one-line errors, operator commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from server import admin_cli
from server.config import ConfigError, build_config, merge, read_config_file
from server.ledger import Ledger


def serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fedlite", "serve", *args], capture_output=True, text=True,
                          timeout=60)


def test_config_file_and_flags_merge(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text('[server]\nmodel = "m.tflite"\ndata_dir = "d"\n[rounds]\ntarget = 8\nmode = "async"\n'
                    '[privacy]\nnoise_multiplier = 1.0\nclip_norm = 0.5\n')
    config = build_config(merge(read_config_file(path), {"rounds": {"target": 12, "mode": None}}))
    assert (config.rounds.target, config.rounds.mode, config.aggregation.dp.clip_norm) == (12, "async", 0.5)
    assert config.history_path == Path("d") / "history.jsonl"


@pytest.mark.parametrize(("values", "message"), [
    ({"server": {"model": "m"}}, "'data_dir' is required"),
    ({"server": {"model": "m", "data_dir": "d"}, "rounds": {"targte": 3}}, "unknown key 'targte' in [rounds]"),
    ({"server": {"model": "m", "data_dir": "d"}, "rounds": {"min_quorum": 9, "target": 3}}, "min_quorum"),
    ({"server": {"model": "m", "data_dir": "d"}, "aggregation": {"strategy": "fedsgd"}}, "unknown strategy"),
    ({"server": {"model": "m", "data_dir": "d"}, "extra": {}}, "unknown config section 'extra'"),
])
def test_bad_configuration_names_the_key(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_config(values)


def test_serve_user_errors_are_one_line(tmp_path: Path) -> None:
    missing = serve("--model", str(tmp_path / "none.tflite"), "--data-dir", str(tmp_path))
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0
    assert "does not exist" in missing.stderr
    (tmp_path / "bad.toml").write_text("[rounds\n")
    bad = serve("--config", str(tmp_path / "bad.toml"))
    assert bad.returncode == 2 and "is not valid" in bad.stderr and "Traceback" not in bad.stderr


def test_admin_manages_tokens_devices_and_rounds(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    Ledger(tmp_path / "ledger.sqlite3").close()
    run = lambda *args: admin_cli.main(["--data-dir", str(tmp_path), *args])
    assert run("token", "create", "--uses", "3", "--note", "lab") == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("tok_")
    assert run("token", "list") == 0
    listing = capsys.readouterr().out
    assert "0/3 uses" in listing and "active" in listing and "lab" in listing
    token_id = listing.split()[0]
    assert run("token", "revoke", token_id) == 0 and "revoked 1" in capsys.readouterr().out
    assert run("device", "revoke", "dev_nobody") == 1
    assert "no device" in capsys.readouterr().err
    assert run("round", "show", "7") == 1
    assert admin_cli.main(["--data-dir", str(tmp_path / "nowhere"), "device", "list"]) == 2
