"""The device driver: enrols, then runs rounds by asking the round state machine what to do.

All decisions live in :mod:`edge_sdk.client.round`; this module does the waiting, the I/O and
the journaling. Errors a retry cannot fix (a revoked device, unusable local data, a state
directory that cannot be written) stop the client by raising; everything else becomes a
``Failed`` event, which the machine turns into a backoff or an abandoned round.
"""

from __future__ import annotations

import platform
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import edge_sdk
from edge_sdk._lazy import MissingDependencyError
from edge_sdk.client import round as r
from edge_sdk.client.api import ServerAPI, SigningTransport
from edge_sdk.client.eligibility import EligibilityHooks, EligibilityPolicy
from edge_sdk.client.errors import (
    ClientError,
    ConfigurationError,
    DataError,
    DeviceRevokedError,
    EnrolmentError,
    ServerError,
    StateError,
    TransportError,
)
from edge_sdk.client.state import StateDir
from edge_sdk.client.training import Interrupted
from edge_sdk.client.transport import RetryingTransport, RetryPolicy, Transport
from edge_sdk.client.work import RoundWork, runtime_name
from edge_sdk.wire import protocol

Reporter = Callable[[str, dict[str, Any]], None]
_STOPPING = (ConfigurationError, DataError, DeviceRevokedError, EnrolmentError, Interrupted, StateError,
             MissingDependencyError)


def failure_outcome(exc: Exception) -> Literal["retry", "drop"] | None:
    """How a failed action is handled: retried later, its task dropped, or (None) the client stops."""
    if isinstance(exc, _STOPPING):
        return None
    if isinstance(exc, ServerError):
        return "retry" if exc.retryable else "drop"
    if isinstance(exc, TransportError):
        return "retry"
    if isinstance(exc, (ClientError, ValueError)):  # integrity, undecodable bundle, bad manifest, too large
        return "drop"
    return None


@dataclass(frozen=True)
class ClientConfig:
    """Everything a device needs to know; built by the CLI or by an embedding app."""

    server: str
    state_dir: Path
    data: Path
    token: str | None = None
    ca_bundle: str | None = None
    pin_sha256: str | None = None
    label_column: str = "label"
    eligibility: EligibilityPolicy = field(default_factory=EligibilityPolicy)
    rounds: r.RoundPolicy = field(default_factory=r.RoundPolicy)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0


def _https_transport(config: ClientConfig) -> Transport:
    from edge_sdk.client.https import HTTPSConfig, HTTPSTransport

    try:
        https = HTTPSConfig(config.server, config.ca_bundle, config.pin_sha256,
                            config.connect_timeout_s, config.read_timeout_s)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return HTTPSTransport(https)


class Client:
    """A FedLite device: ``with Client(config) as client: client.run(stop)``.

    ``transport`` replaces HTTPS (e.g. :class:`~edge_sdk.client.asgi.ASGITransport`); signing
    and retries are layered on top of it either way, and its owner closes it.
    ``report(event, fields)`` receives progress: ``enrolled``, ``checkin``, ``download``, ``data``,
    ``epoch``, ``encoded``, ``upload``, ``abandon``, ``wait``, ``error`` (with ``phase`` and ``message``).
    """

    def __init__(self, config: ClientConfig, *, transport: Transport | None = None,
                 hooks: EligibilityHooks | None = None, report: Reporter | None = None,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None) -> None:
        self.config = config
        self._report = report or (lambda event, fields: None)
        self._owns_transport = transport is None
        base = transport or _https_transport(config)
        self.state_dir = StateDir(config.state_dir)
        self.state_dir.lock()
        try:
            device = self.state_dir.read_json("device.json") or {}
            key = self.state_dir.load_or_create_key()
        except BaseException:
            self.state_dir.unlock()
            raise
        self._stop = threading.Event()
        self.signer = SigningTransport(base, key, device.get("device_id"), clock=clock)
        retrying = RetryingTransport(self.signer, config.retry, rng=rng, sleep=lambda s: self._stop.wait(s))
        self.api = ServerAPI(retrying)
        self.work = RoundWork(self.state_dir, self.api, data_path=config.data, label_column=config.label_column,
                              hooks=hooks or EligibilityHooks(), policy=config.eligibility, report=self.report,
                              stop=self._stop)
        self.machine = r.RoundMachine(config.rounds, rng)
        self.state = self._load_journal()

    def report(self, event: str, **fields: Any) -> None:
        """Send one progress event to the reporter."""
        self._report(event, fields)

    @property
    def device_id(self) -> str | None:
        """The id the server gave this device, once enrolled."""
        return self.signer.device_id

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the state directory, and the connections if the client made its transport.

        A transport passed in stays open: its owner may share it between clients (one
        :class:`~edge_sdk.client.asgi.ASGITransport` for many simulated devices).
        """
        if self._owns_transport:
            self.signer.close()
        self.state_dir.unlock()

    # ------------------------------------------------------------ enrolment and the loop

    def enrol(self) -> str:
        """Enrol with the configured token unless this state directory already is; the device id."""
        device = self.state_dir.read_json("device.json")
        if device is not None:
            if device.get("server") != self.config.server:
                raise ConfigurationError(f"{self.state_dir.root} belongs to server {device.get('server')}; "
                                         "use another --state-dir for this server")
            return device["device_id"]
        if not self.config.token:
            raise ConfigurationError("this device is not enrolled yet: give the enrolment token (--token)")
        message = protocol.EnrollRequest(self.config.token, self.signer.key.public_key_b64,
                                         f"{platform.system().lower()}-{platform.machine()}", edge_sdk.__version__,
                                         runtime_name())
        device_id = self.api.enroll(message).device_id
        self.state_dir.write_json("device.json", {"device_id": device_id, "server": self.config.server})
        self.signer.device_id = device_id
        self.report("enrolled", device_id=device_id)
        return device_id

    def now(self) -> float:
        """The current time on the server's clock."""
        return self.signer.now()

    def run(self, stop: threading.Event | None = None, *, once: bool = False) -> r.Event | None:
        """Take part in rounds until ``stop`` is set; the last event, e.g. ``Uploaded``.

        With ``once``, check in at once and return as soon as that is settled: told to wait, not
        eligible, a failed check-in, or a round uploaded or abandoned. A stop request during training
        leaves the round journaled; the next run resumes it.
        """
        self._stop = self.work.stop = stop or threading.Event()
        self._enrol_patiently(once)
        if once and self.state.task is None:  # a one-shot run checks in now, whatever the last wait said
            self.state = replace(self.state, not_before=0.0)
        last: r.Event | None = None
        while not self._stop.is_set():
            action = self.machine.next_action(self.state, self.now())
            if not isinstance(action, r.Sleep):
                try:
                    last = self._perform(action)
                except Interrupted:
                    break
                continue
            if once and last is not None and self.state.task is None:
                break
            self.report("wait", seconds=round(action.until - self.now(), 1), reason=self.state.note or "idle")
            self._stop.wait(max(0.0, action.until - self.now()))
        return last

    def _enrol_patiently(self, once: bool) -> None:
        """Enrol, retrying network trouble with backoff (unless ``once``) until stopped."""
        failures = 0
        while not self._stop.is_set():
            try:
                self.enrol()
                return
            except TransportError as exc:
                if once or failure_outcome(exc) != "retry":
                    raise
                failures += 1
                self.report("error", message=str(exc), phase="enrol")
                self._stop.wait(self.config.rounds.backoff(failures, self.machine.rng))

    def _perform(self, action: r.Action) -> r.Event:
        if isinstance(action, (r.Download, r.Train, r.Upload)):
            self._apply(r.Started())
        try:
            event = self.work.perform(action)
        except Exception as exc:
            outcome = failure_outcome(exc)
            if outcome is None:
                raise
            self.report("error", message=str(exc), phase=self.state.phase.value)
            event = r.Failed(outcome, str(exc))
        self._apply(event)
        return event

    def _apply(self, event: r.Event) -> None:
        self.state = self.machine.on_event(self.state, event, self.now())
        self.state_dir.write_json("journal.json", self.state.to_json())

    def _load_journal(self) -> r.RoundState:
        try:
            raw = self.state_dir.read_json("journal.json")
            state = r.RoundState.from_json(raw) if raw else r.RoundState()
        except (StateError, ValueError, KeyError, TypeError) as exc:  # the server's dedup makes afresh safe
            self.report("error", message=f"journal.json unusable ({exc}); starting afresh", phase="resume")
            state = r.RoundState()
        return self.machine.resumed(state, self.now())
