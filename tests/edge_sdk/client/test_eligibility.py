"""Eligibility hooks read from fake /sys and /proc trees shaped like a Raspberry Pi's."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.client.eligibility import (
    EligibilityHooks,
    EligibilityPolicy,
    is_idle,
    on_external_power,
    on_unmetered_network,
)
from edge_sdk.wire.protocol import Eligibility

ROUTE_HEADER = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"


def _files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text + "\n")
    return root


@pytest.mark.parametrize(
    ("supplies", "expected"),
    [
        ({}, True),  # a Pi on its power supply: no power_supply entries at all
        ({"BAT0/type": "Battery", "BAT0/status": "Discharging"}, False),
        ({"BAT0/type": "Battery", "BAT0/status": "Charging"}, True),
        ({"BAT0/type": "Battery", "BAT0/status": "Full"}, True),
        ({"BAT0/type": "Battery", "BAT0/status": "Discharging", "AC/type": "Mains", "AC/online": "1"}, True),
        ({"BAT0/type": "Battery", "BAT0/status": "Discharging", "AC/type": "Mains", "AC/online": "0"}, False),
    ],
)
def test_external_power(tmp_path: Path, supplies: dict[str, str], expected: bool) -> None:
    sysfs = _files(tmp_path, {f"class/power_supply/{k}": v for k, v in supplies.items()})
    assert on_external_power(sysfs) is expected


@pytest.mark.parametrize(
    ("interface", "arp_type", "expected"),
    [("eth0", "1", True), ("wlan0", "1", True), ("wwan0", "1", False), ("ppp0", "512", False),
     ("modem", "512", False), ("usb0", "1", False), (None, "1", True)],
)
def test_unmetered_network(tmp_path: Path, interface: str | None, arp_type: str, expected: bool) -> None:
    routes = ROUTE_HEADER + "lo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n"
    if interface:
        routes += f"{interface}\t00000000\t0102A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
    root = _files(tmp_path, {"proc/net/route": routes, f"sys/class/net/{interface}/type": arp_type})
    assert on_unmetered_network(root / "sys", root / "proc") is expected


def test_idle_compares_load_per_cpu() -> None:
    assert is_idle(0.5, loadavg=lambda: (1.9, 0, 0), cpu_count=lambda: 4)
    assert not is_idle(0.5, loadavg=lambda: (2.1, 0, 0), cpu_count=lambda: 4)


def test_a_broken_hook_counts_as_not_satisfied() -> None:
    def broken() -> bool:
        raise OSError("sensor gone")

    hooks = EligibilityHooks(charging=broken, unmetered=lambda: True, idle=lambda: True)
    assert hooks.snapshot() == Eligibility(charging=False, unmetered=True, idle=True)


def test_default_hooks_for_a_custom_root(tmp_path: Path) -> None:
    root = _files(tmp_path, {"proc/net/route": ROUTE_HEADER, "sys/class/power_supply/.keep": ""})
    snapshot = EligibilityHooks.for_root(root / "sys", root / "proc", max_load_per_cpu=1e9).snapshot()
    assert snapshot == Eligibility(charging=True, unmetered=True, idle=True)


def test_policy_names_unmet_requirements() -> None:
    policy = EligibilityPolicy(require_charging=True, require_idle=True)
    assert policy.unmet(Eligibility(charging=False, unmetered=False, idle=True)) == ["charging"]
    assert EligibilityPolicy().unmet(Eligibility(False, False, False)) == []
