"""A minimal signing device for tests: requests over HTTPS plus ``edge_sdk.signing``."""

from __future__ import annotations

import json
import platform
from typing import Any

import requests

from edge_sdk.signing import DeviceKey, sign_request

CHECKIN = {"eligibility": {"charging": True, "unmetered": True, "idle": True}, "model_sha256": None,
           "weights_version": None, "sdk_version": "0.1.0", "runtime": "test"}


class TestDevice:
    """One enrolled (or enrolling) device talking to ``base_url``."""

    __test__ = False  # not a test class

    def __init__(self, base_url: str, verify: str, key: DeviceKey | None = None) -> None:
        self.base_url = base_url
        self.verify = verify
        self.key = key or DeviceKey.generate()
        self.device_id: str | None = None
        self.session = requests.Session()

    def request(self, method: str, target: str, body: bytes = b"", *, signed: bool = True,
                headers: dict[str, str] | None = None, content_type: str | None = None) -> requests.Response:
        """Send one (signed) request; ``target`` is the path with query."""
        all_headers = dict(headers or {})
        if signed:
            all_headers.update(sign_request(self.key, method, target, body, self.device_id))
        if content_type:
            all_headers["Content-Type"] = content_type
        return self.session.request(method, self.base_url + target, data=body, headers=all_headers,
                                    verify=self.verify, timeout=30)

    def post_json(self, target: str, payload: Any, **kwargs: Any) -> requests.Response:
        return self.request("POST", target, json.dumps(payload).encode(), content_type="application/json", **kwargs)

    def enroll(self, token: str) -> requests.Response:
        """Enrol with ``token``; remembers the device id on success."""
        body = {"token": token, "public_key": self.key.public_key_b64, "platform": platform.machine() or "test",
                "sdk_version": "0.1.0", "runtime": "test"}
        saved, self.device_id = self.device_id, None
        response = self.post_json("/v1/enroll", body)
        self.device_id = response.json()["device_id"] if response.status_code in (200, 201) else saved
        return response

    def checkin(self, **overrides: Any) -> requests.Response:
        return self.post_json("/v1/checkin", {**CHECKIN, **overrides})

    def upload(self, url: str, body: bytes) -> requests.Response:
        return self.request("PUT", url, body, content_type="application/octet-stream")


def train_update(model: Any, task: dict[str, Any], base: dict[str, Any], x: Any, y: Any, *,
                 seed: int = 0) -> bytes:
    """Train ``model`` (an ``edge_sdk.TrainableModel``) from ``base`` on (x, y) as ``task`` asks and
    return the encoded update body."""
    import numpy as np

    from edge_sdk.wire import encode_update, get_preset

    model.set_weights(base)
    model.fit(x, y, epochs=task["train"]["epochs"], seed=seed)
    trained = model.get_weights()
    delta = {spec.name: (trained[spec.name] - base[spec.name]).astype(np.float32)
             for spec in model.manifest.trainable_weights}
    meta = {"task_id": task["task_id"], "round": task["round"], "base_version": task["base_version"],
            "num_examples": int(len(x)), "metrics": {"loss": 1.0}}
    codec = task["codec"]
    body, _ = encode_update(delta, get_preset(codec["preset"]), seed=codec["seed"],
                            rotation_seed=codec["rotation_seed"], meta=meta)
    return body
