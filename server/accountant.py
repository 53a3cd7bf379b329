"""Privacy accounting for DP-FedAvg: Rényi DP of the sampled Gaussian mechanism.

Each round releases ``sum(clipped updates) + N(0, (z*C)^2)`` over a cohort in which every member
of a population of N devices takes part independently with probability q. Its Rényi divergence at
order alpha is computed as in Mironov, Talwar and Zhang (2019), "Rényi Differential Privacy of the
Sampled Gaussian Mechanism" (exact series for integer orders, the two-sided erfc series of their
Section 3.3 for fractional ones). Rounds compose by adding RDP; the total converts to (epsilon,
delta) with the bound of Balle et al. (2020), "Hypothesis Testing Interpretations and Rényi
Differential Privacy", Theorem 21 (also Canonne, Kamath and Steinke 2020, Proposition 12).
Pure math: numbers in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "DEFAULT_ORDERS",
    "PrivacyAccountant",
    "epsilon_from_rdp",
    "rdp_sampled_gaussian",
]

# The usual grid: fine steps near 1 where small-epsilon bounds live, integers above, a few large.
DEFAULT_ORDERS: tuple[float, ...] = tuple(
    [1 + x / 10 for x in range(1, 100)] + list(range(12, 64)) + [128, 256, 512]
)
_SERIES_MAX_TERMS = 10_000
_SERIES_RELATIVE_CUTOFF = 30.0  # stop once terms are e^-30 below the running total


def _log_add(log_x: float, log_y: float) -> float:
    """log(exp(log_x) + exp(log_y)) without overflow."""
    low, high = sorted((log_x, log_y))
    return high if low == -math.inf else high + math.log1p(math.exp(low - high))


def _log_sub(log_x: float, log_y: float) -> float:
    """log(exp(log_x) - exp(log_y)) for log_x >= log_y."""
    if log_y == -math.inf:
        return log_x
    return log_x + math.log1p(-math.exp(log_y - log_x)) if log_x > log_y else -math.inf


def _log_erfc(x: float) -> float:
    """log(erfc(x)), accurate where erfc(x) underflows (asymptotic series for x > 25)."""
    if x < 25.0:
        return math.log(math.erfc(x))
    inv = 1.0 / (2.0 * x * x)
    series = 1.0 - inv + 3.0 * inv**2 - 15.0 * inv**3 + 105.0 * inv**4
    return -x * x - math.log(x) - 0.5 * math.log(math.pi) + math.log(series)


def _log_binom(alpha: float, i: int) -> tuple[float, int]:
    """log|C(alpha, i)| and its sign, for alpha > 0 and integer i >= 0 (i <= alpha if alpha is whole)."""
    negative_factors = max(0, i - math.floor(alpha) - 1)  # factors (alpha - k) with k > alpha
    log_magnitude = math.lgamma(alpha + 1) - math.lgamma(i + 1) - math.lgamma(alpha - i + 1)
    return log_magnitude, -1 if negative_factors % 2 else 1


def _log_a_integer(q: float, sigma: float, alpha: int) -> float:
    """log A_alpha for integer alpha: a finite binomial sum (Mironov et al. 2019, Section 3.2)."""
    log_a = -math.inf
    for i in range(alpha + 1):
        term = _log_binom(alpha, i)[0] + i * math.log(q) + (alpha - i) * math.log1p(-q)
        log_a = _log_add(log_a, term + (i * i - i) / (2 * sigma**2))
    return log_a


def _log_a_fractional(q: float, sigma: float, alpha: float) -> float:
    """log A_alpha for fractional alpha: two convergent series split at z0 (Section 3.3)."""
    z0 = sigma**2 * math.log(1 / q - 1) + 0.5
    parts = {+1: [-math.inf, -math.inf], -1: [-math.inf, -math.inf]}  # sign -> [A0, A1] log-sums
    for i in range(_SERIES_MAX_TERMS):
        log_coef, sign = _log_binom(alpha, i)
        j = alpha - i
        s0 = (log_coef + i * math.log(q) + j * math.log1p(-q) + (i * i - i) / (2 * sigma**2)
              + math.log(0.5) + _log_erfc((i - z0) / (math.sqrt(2) * sigma)))
        s1 = (log_coef + j * math.log(q) + i * math.log1p(-q) + (j * j - j) / (2 * sigma**2)
              + math.log(0.5) + _log_erfc((z0 - j) / (math.sqrt(2) * sigma)))
        parts[sign] = [_log_add(parts[sign][0], s0), _log_add(parts[sign][1], s1)]
        total = _log_add(*parts[+1])
        if i > alpha and max(s0, s1) < total - _SERIES_RELATIVE_CUTOFF:
            return _log_sub(total, _log_add(*parts[-1]))
    raise ArithmeticError(f"RDP series did not converge for q={q}, sigma={sigma}, alpha={alpha}")


def rdp_sampled_gaussian(
    sampling_rate: float, noise_multiplier: float, orders: Sequence[float] = DEFAULT_ORDERS
) -> np.ndarray:
    """RDP of one step of the Poisson-sampled Gaussian mechanism, one value per order."""
    q, sigma = float(sampling_rate), float(noise_multiplier)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"sampling rate must be in [0, 1], got {q}")
    if sigma < 0.0:
        raise ValueError(f"noise multiplier must be >= 0, got {sigma}")
    return np.array([_rdp_one_order(q, sigma, float(alpha)) for alpha in orders])


def _rdp_one_order(q: float, sigma: float, alpha: float) -> float:
    if alpha <= 1.0:
        raise ValueError(f"RDP orders must be > 1, got {alpha}")
    if q == 0.0:
        return 0.0
    if sigma == 0.0 or math.isinf(alpha):
        return math.inf
    if q == 1.0:
        return alpha / (2 * sigma**2)
    log_a = _log_a_integer(q, sigma, int(alpha)) if alpha.is_integer() else _log_a_fractional(q, sigma, alpha)
    return log_a / (alpha - 1)


def epsilon_from_rdp(orders: Sequence[float], rdp: Sequence[float], delta: float) -> tuple[float, float]:
    """(epsilon, best order) for a composed RDP curve at the given delta (Balle et al. 2020)."""
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    pairs = zip(orders, rdp, strict=True)
    candidates = [(_epsilon_at(float(a), float(r), delta), float(a)) for a, r in pairs]
    return min(candidates)


def _epsilon_at(alpha: float, rdp: float, delta: float) -> float:
    if math.isinf(rdp):
        return math.inf
    if rdp <= 0.0 or delta**2 + math.expm1(-rdp) > 0:
        return 0.0  # the KL bound delta <= sqrt(1 - exp(-rdp)) already holds
    if alpha <= 1.01:
        return math.inf  # the conversion is numerically unstable as alpha -> 1
    return max(0.0, rdp + math.log1p(-1 / alpha) - math.log(delta * alpha) / (alpha - 1))


class PrivacyAccountant:
    """Tracks the (epsilon, delta) spent by DP-FedAvg rounds; one ``step`` per released aggregate.

    ``sampling_rate`` is q = expected participants per round / population size. The RDP curve
    accumulates, so a restarted server (or a changed noise multiplier) keeps the true total.
    """

    def __init__(
        self,
        sampling_rate: float,
        noise_multiplier: float,
        target_delta: float,
        orders: Sequence[float] = DEFAULT_ORDERS,
    ) -> None:
        if not 0.0 < target_delta < 1.0:
            raise ValueError(f"target_delta must be in (0, 1), got {target_delta}")
        self.sampling_rate = float(sampling_rate)
        self.noise_multiplier = float(noise_multiplier)
        self.target_delta = float(target_delta)
        self.orders = np.array(orders, dtype=np.float64)
        self._rdp_per_step = rdp_sampled_gaussian(sampling_rate, noise_multiplier, self.orders)
        self._rdp = np.zeros_like(self.orders)
        self.steps = 0

    def step(self, n: int = 1) -> None:
        """Record ``n`` released aggregates."""
        if n < 0:
            raise ValueError(f"step count must be >= 0, got {n}")
        self._rdp = self._composed(n)
        self.steps += n

    def epsilon(self, extra_steps: int = 0) -> float:
        """Epsilon spent so far at ``target_delta`` (after ``extra_steps`` more, if given)."""
        return epsilon_from_rdp(self.orders, self._composed(extra_steps), self.target_delta)[0]

    def _composed(self, extra_steps: int) -> np.ndarray:
        """The RDP curve after ``extra_steps`` more rounds (RDP adds up under composition)."""
        return self._rdp + extra_steps * self._rdp_per_step if extra_steps else self._rdp

    def would_exceed(self, max_epsilon: float, rounds: int = 1) -> bool:
        """True if releasing ``rounds`` more aggregates would spend more than ``max_epsilon``."""
        return self.epsilon(extra_steps=rounds) > max_epsilon

    def state_dict(self) -> dict[str, np.ndarray | float | int]:
        """The accumulated RDP curve and its orders, for persistence."""
        return {"orders": self.orders.copy(), "rdp": self._rdp.copy(), "steps": self.steps}

    def load_state_dict(self, state: Mapping[str, np.ndarray | float | int]) -> None:
        """Restore a state saved by ``state_dict``; the orders must match this accountant's."""
        orders = np.asarray(state["orders"], dtype=np.float64)
        rdp = np.asarray(state["rdp"], dtype=np.float64)
        if orders.shape != self.orders.shape or not np.array_equal(orders, self.orders):
            raise ValueError("accountant state was saved with different RDP orders")
        if rdp.shape != orders.shape or not np.all(rdp >= 0):
            raise ValueError("accountant state has a malformed RDP curve")
        self._rdp, self.steps = rdp.copy(), int(state["steps"])
