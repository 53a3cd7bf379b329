"""Whether now is a good time to train: charging, on an unmetered network, idle.

Each condition is a hook (a function returning ``bool``) so apps can plug in their own. The
defaults read Linux's /sys and /proc, suited to a Raspberry Pi: a board with no battery counts
as charging, a default route through a cellular or PPP interface counts as metered, and the
one-minute load average per CPU must be below a threshold to count as idle.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from edge_sdk.wire.protocol import Eligibility

Hook = Callable[[], bool]

METERED_PREFIXES = ("wwan", "wwp", "ppp", "rmnet", "usb")
_ARPHRD_PPP = "512"


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def on_external_power(sysfs: Path = Path("/sys")) -> bool:
    """True if mains/USB power is online, a battery is charging or full, or there is no battery."""
    supplies = list((sysfs / "class/power_supply").glob("*"))
    if any(_read(s / "type") != "Battery" and _read(s / "online") == "1" for s in supplies):
        return True
    batteries = [s for s in supplies if _read(s / "type") == "Battery"]
    return not batteries or any(_read(s / "status") in ("Charging", "Full") for s in batteries)


def default_route_interface(procfs: Path = Path("/proc")) -> str | None:
    """The interface of the IPv4 default route, or ``None`` if there is none."""
    for line in _read(procfs / "net/route").splitlines()[1:]:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":
            return fields[0]
    return None


def on_unmetered_network(sysfs: Path = Path("/sys"), procfs: Path = Path("/proc")) -> bool:
    """False if the default route goes through a cellular, PPP or USB-tethered interface."""
    interface = default_route_interface(procfs)
    if interface is None:
        return True  # no default route: a local network only, nothing metered in sight
    if interface.startswith(METERED_PREFIXES):
        return False
    return _read(sysfs / "class/net" / interface / "type") != _ARPHRD_PPP


def is_idle(
    max_load_per_cpu: float = 0.5,
    loadavg: Callable[[], tuple[float, float, float]] = os.getloadavg,
    cpu_count: Callable[[], int | None] = os.cpu_count,
) -> bool:
    """True if the one-minute load average per CPU is below ``max_load_per_cpu``."""
    return loadavg()[0] / (cpu_count() or 1) < max_load_per_cpu


@dataclass(frozen=True)
class EligibilityHooks:
    """The three conditions a device reports at check-in, each a hook returning ``bool``."""

    charging: Hook = on_external_power
    unmetered: Hook = on_unmetered_network
    idle: Hook = is_idle

    @classmethod
    def for_root(cls, sysfs: Path, procfs: Path, max_load_per_cpu: float = 0.5) -> EligibilityHooks:
        """Default hooks reading ``sysfs`` and ``procfs`` instead of /sys and /proc."""
        return cls(
            partial(on_external_power, sysfs),
            partial(on_unmetered_network, sysfs, procfs),
            partial(is_idle, max_load_per_cpu),
        )

    @classmethod
    def always(cls) -> EligibilityHooks:
        """Hooks that always report eligible (simulations, always-on boards)."""
        return cls(lambda: True, lambda: True, lambda: True)

    def snapshot(self) -> Eligibility:
        """Evaluate the hooks now; a hook that raises counts as not satisfied."""
        return Eligibility(_safe(self.charging), _safe(self.unmetered), _safe(self.idle))


def _safe(hook: Hook) -> bool:
    try:
        return bool(hook())
    except Exception:  # a hook is third-party code; a broken one must not stop the device
        return False


@dataclass(frozen=True)
class EligibilityPolicy:
    """What the device itself requires before it even checks in (the server may require more)."""

    require_charging: bool = False
    require_unmetered: bool = False
    require_idle: bool = False

    def unmet(self, eligibility: Eligibility) -> list[str]:
        """Names of the required conditions that ``eligibility`` does not satisfy."""
        wanted = {"charging": self.require_charging, "unmetered": self.require_unmetered, "idle": self.require_idle}
        return [name for name, required in wanted.items() if required and not getattr(eligibility, name)]
