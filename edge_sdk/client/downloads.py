"""Model and weights downloads: verified by sha256, cached in the state directory.

A model graph is fetched in byte ranges appended durably to ``models/<sha256>.part``, so an
interrupted download resumes where it stopped; it becomes ``models/<sha256>.tflite`` only once
its hash matches. Global weights are cached per version; when an older version is cached the
server may send only the difference (docs/protocol.md §4.4).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.client.api import ServerAPI
from edge_sdk.client.errors import IntegrityError, RemoteProtocolError
from edge_sdk.client.state import StateDir, append_durably
from edge_sdk.wire.manifest import WeightSpec
from edge_sdk.wire.protocol import HEADER_DELTA_FROM, HEADER_SHA256, ModelRef, WeightsRef
from edge_sdk.wire.weights import decode_weights

Report = Callable[..., None]

RANGE_BYTES = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(RANGE_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


class Downloads:
    """Fetches and caches what a task needs; every byte is verified before it is used."""

    def __init__(self, state: StateDir, api: ServerAPI, report: Report, *, range_bytes: int = RANGE_BYTES) -> None:
        self.state = state
        self.api = api
        self.report = report
        self.range_bytes = range_bytes

    def cached_model_sha256(self) -> str | None:
        """The sha256 of the cached model graph, if any (reported at check-in)."""
        names = [path.stem for path in self.state.path("models").glob("*.tflite")]
        return names[0] if len(names) == 1 else None

    def cached_weights_version(self) -> int | None:
        """The newest cached global weights version, if any."""
        versions = [int(path.stem) for path in self.state.path("weights").glob("*.npz") if path.stem.isdigit()]
        return max(versions, default=None)

    def model(self, ref: ModelRef) -> Path:
        """The path of the verified model graph ``ref``, downloading what is missing."""
        final = self.state.path("models", f"{ref.sha256}.tflite")
        if final.exists() and sha256_file(final) == ref.sha256:
            return final
        part = self.state.path("models", f"{ref.sha256}.part")
        while (have := part.stat().st_size if part.exists() else 0) < ref.size:
            self._fetch_range(ref, part, have)
            self.report("download", what="model", bytes=part.stat().st_size, total=ref.size)
        digest, size = sha256_file(part), part.stat().st_size
        if digest != ref.sha256 or size != ref.size:
            part.unlink()
            raise IntegrityError(f"model {ref.sha256[:16]}... failed verification (got sha256 {digest[:16]}..., "
                                 f"{size} bytes); discarded")
        self.state.rename(part.relative_to(self.state.root).as_posix(), f"models/{final.name}")
        self.state.keep_only("models", {final.name})
        return final

    def _fetch_range(self, ref: ModelRef, part: Path, start: int) -> None:
        end = min(start + self.range_bytes, ref.size) - 1
        response = self.api.get(ref.url, (start, end))
        if response.status == 200:  # the server ignored the range and sent everything
            if len(response.body) < ref.size:  # asking again would get the same short body, forever
                raise RemoteProtocolError(f"asked for bytes {start}-{end} of the model, got a whole body of "
                                          f"{len(response.body)} bytes, not {ref.size}")
            self.state.write_bytes(part.relative_to(self.state.root).as_posix(), response.body)
            return
        match = _CONTENT_RANGE.fullmatch(response.header("content-range") or "")
        if response.status != 206 or not match or int(match[1]) != start or not response.body:
            raise RemoteProtocolError(f"asked for bytes {start}-{end} of the model, got status {response.status} "
                                      f"with Content-Range {response.header('content-range')!r}")
        append_durably(part, response.body)

    def weights(self, ref: WeightsRef, specs: Sequence[WeightSpec]) -> dict[str, np.ndarray]:
        """The verified global weights of ``ref.version``, from the cache or the server."""
        name = f"weights/{ref.version}.npz"
        cached = self.state.read_arrays(name)
        if cached is not None and _fits(cached, specs):
            return cached
        since = self.cached_weights_version()
        since = since if since is not None and since < ref.version else None
        weights = self._fetch_weights(ref, specs, since)
        self.state.write_arrays(name, weights)
        self.state.keep_only("weights", {f"{ref.version}.npz"})
        return weights

    def _fetch_weights(self, ref: WeightsRef, specs: Sequence[WeightSpec], since: int | None) -> dict[str, np.ndarray]:
        url = ref.url + ("" if since is None else f"{'&' if '?' in ref.url else '?'}since={since}")
        response = self.api.get(url)
        delta_from = response.header(HEADER_DELTA_FROM)
        expected = ref.sha256 if delta_from is None else response.header(HEADER_SHA256)
        digest = hashlib.sha256(response.body).hexdigest()
        if digest != expected:
            raise IntegrityError(f"weights version {ref.version} failed verification "
                                 f"(sha256 {digest[:16]}..., expected {str(expected)[:16]}...); discarded")
        self.report("download", what="weights", bytes=len(response.body), total=len(response.body))
        meta, arrays = decode_weights(response.body, specs)
        _check_meta(meta, ref.version, delta_from)
        if delta_from is None:
            return arrays
        base = self.state.read_arrays(f"weights/{int(delta_from)}.npz")
        if base is None or int(delta_from) != since:
            raise RemoteProtocolError(f"server sent a delta from version {delta_from}, which is not cached")
        return {key: (base[key] + value).astype(np.float32) for key, value in arrays.items()}


def _fits(arrays: dict[str, np.ndarray], specs: Sequence[WeightSpec]) -> bool:
    return all(spec.name in arrays and arrays[spec.name].shape == spec.shape for spec in specs)


def _check_meta(meta: dict[str, Any], version: int, delta_from: str | None) -> None:
    if meta.get("version") != version:
        raise RemoteProtocolError(f"weights bundle says version {meta.get('version')!r}, expected {version}")
    if delta_from is not None and str(meta.get("delta_from")) != delta_from:
        raise RemoteProtocolError(f"delta bundle says delta_from {meta.get('delta_from')!r}, header {delta_from}")
