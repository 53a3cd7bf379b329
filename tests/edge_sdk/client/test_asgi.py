"""ASGITransport: the real server app driven in process, and the ASGI contract on a tiny app."""

from __future__ import annotations

import time
from pathlib import Path

from edge_sdk.client import ASGITransport, Client, ClientConfig, EligibilityHooks, Request, Uploaded
from server.app import create_app
from server.config import build_config
from server.service import build_engine
from server.tokens import create_token
from tests.edge_sdk.client.helpers import accepted_updates, write_digits


class EchoApp:
    """Answers every request with what it received; records lifespan messages."""

    def __init__(self) -> None:
        self.lifespan: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                self.lifespan.append(message["type"])
                await send({"type": "lifespan.startup.complete"})
            self.lifespan.append(message["type"])
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = (await receive())["body"]
        headers = dict(scope["headers"])
        echo = f"{scope['method']} {scope['path']} {scope['query_string'].decode()} {headers[b'x-test'].decode()}"
        await send({"type": "http.response.start", "status": 207, "headers": [(b"x-echo", echo.encode())]})
        await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"!"})


def test_requests_and_lifespan_reach_the_app() -> None:
    app = EchoApp()
    with ASGITransport(app) as transport:
        response = transport.send(Request("PUT", "/v1/a%20b?x=1", {"X-Test": "yes"}, b"body"))
        assert app.lifespan == ["lifespan.startup"]
    assert app.lifespan == ["lifespan.startup", "lifespan.shutdown"]
    assert (response.status, response.body) == (207, b"body!")
    assert response.header("x-echo") == "PUT /v1/a b x=1 yes"


def test_devices_share_one_in_process_server_app(digits_cnn_tflite: Path, tmp_path: Path) -> None:
    config = build_config({"server": {"model": str(digits_cnn_tflite), "data_dir": str(tmp_path / "server")},
                           "rounds": {"target": 2}})
    engine, reporter = build_engine(config, digits_cnn_tflite.read_bytes())
    token = engine.ledger.write(lambda conn: create_token(conn, max_uses=2, expires_at=None, now=time.time()))
    data = write_digits(tmp_path / "digits.npz", 100)
    try:
        with ASGITransport(create_app(engine)) as transport:
            for name in ("a", "b"):  # the simulator's pattern: many clients, one app, one thread
                device = ClientConfig("https://in-process", tmp_path / name, data, token=token)
                with Client(device, transport=transport, hooks=EligibilityHooks.always()) as client:
                    assert client.run(once=True) == Uploaded("accepted")
            assert transport.send(Request("GET", "/healthz")).json()["version"] == 1
    finally:
        reporter.close()
    assert [round_number for _, round_number, _ in accepted_updates(tmp_path / "server")] == [1, 1]
