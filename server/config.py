"""Server configuration: frozen dataclasses built from a config file (TOML or JSON) and flags.

The file has sections ``[server]``, ``[rounds]``, ``[training]``, ``[aggregation]``,
``[privacy]``, ``[devices]`` and ``[convert]`` (options for a ``.keras`` model); every key is documented in docs/server.md. Flags override the file.
Nothing is read at import time.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from server import codec
from server.aggregation import AggregationConfig
from server.coordinator import RoundPolicy
from server.privacy import DPConfig


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key."""


@dataclass(frozen=True)
class TrainingConfig:
    """What devices are told to do in a task."""

    codec: str = "int8"
    weights_encoding: str = "fp32"
    epochs: int = 1
    learning_rate: float | None = None
    norm_bound: float | None = None

    def __post_init__(self) -> None:
        codec.check_preset(self.codec)
        if self.weights_encoding not in codec.ENCODINGS:
            raise ValueError(f"weights_encoding must be one of {sorted(codec.ENCODINGS)}")
        if self.epochs < 1 or (self.norm_bound is not None and not self.norm_bound > 0):
            raise ValueError("epochs must be >= 1 and norm_bound > 0")


@dataclass(frozen=True)
class DeviceRules:
    """Who may train, and how fast devices may call."""

    require_charging: bool = False
    require_unmetered: bool = False
    require_idle: bool = False
    rate_per_s: float = 5.0
    burst: float = 20.0
    max_inflight_uploads: int = 1024


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``fedlite serve`` needs."""

    data_dir: Path
    model: Path
    host: str = "127.0.0.1"
    port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    eval_data: Path | None = None
    history: Path | None = None
    operator_token_file: Path | None = None
    rounds: RoundPolicy = field(default_factory=RoundPolicy)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    aggregation: AggregationConfig = field(default_factory=AggregationConfig)
    devices: DeviceRules = field(default_factory=DeviceRules)
    convert: dict[str, Any] = field(default_factory=dict)

    @property
    def history_path(self) -> Path:
        """Where the JSON-lines round history goes."""
        return self.history or self.data_dir / "history.jsonl"


_PATHS = ("data_dir", "model", "tls_cert", "tls_key", "eval_data", "history", "operator_token_file")
_SECTIONS = {"rounds": RoundPolicy, "training": TrainingConfig, "devices": DeviceRules}


def read_config_file(path: Path) -> dict[str, Any]:
    """The nested dict of a ``.toml`` or ``.json`` config file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text) if str(path).endswith(".json") else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table/object")
    return data


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``, section by section (None values in override are ignored)."""
    result = {key: dict(value) if isinstance(value, dict) else value for key, value in base.items()}
    for key, value in override.items():
        if isinstance(value, dict):
            result[key] = merge(result.get(key, {}), value)
        elif value is not None:
            result[key] = value
    return result


def build_config(values: dict[str, Any]) -> ServerConfig:
    """A validated :class:`ServerConfig` from nested values (file merged with flags)."""
    values = dict(values)
    top = dict(values.pop("server", {}))
    kwargs: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        kwargs[section] = _section(cls, section, values.pop(section, {}))
    kwargs["aggregation"] = _aggregation(values.pop("aggregation", {}), values.pop("privacy", {}))
    kwargs["convert"] = {k: v for k, v in values.pop("convert", {}).items() if v is not None}
    if values:
        raise ConfigError(f"unknown config section {sorted(values)[0]!r}")
    for key in ("data_dir", "model"):
        if key not in top:
            raise ConfigError(f"'{key}' is required (flag --{key.replace('_', '-')} or [server] {key})")
    for key in _PATHS:
        if top.get(key) is not None:
            top[key] = Path(top[key])
    return _section(ServerConfig, "server", top, **kwargs)


def _section(cls: type, name: str, values: dict[str, Any], **extra: Any) -> Any:
    known = {f.name for f in fields(cls)} - set(extra)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in [{name}]; known: {', '.join(sorted(known))}")
    try:
        return cls(**values, **extra)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{name}]: {exc}") from exc


def _aggregation(values: dict[str, Any], privacy: dict[str, Any]) -> AggregationConfig:
    values = dict(values)
    privacy = dict(privacy)
    population = privacy.pop("population", 0)
    dp = _section(DPConfig, "privacy", privacy) if privacy.get("noise_multiplier") is not None else None
    if dp is None and privacy:
        raise ConfigError("[privacy] needs noise_multiplier (and clip_norm) to enable differential privacy")
    return _section(AggregationConfig, "aggregation", values, dp=dp, dp_population=population)
