"""SGD (momentum, Nesterov) and Adam with Keras 3's update rules, on plain tf.Variables."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from converters.errors import ConversionError

OPTIMIZERS = ("sgd", "adam")
_UNUSED_SETTINGS = {"sgd": ("beta_1", "beta_2", "epsilon"), "adam": ("momentum", "nesterov")}


@dataclass(frozen=True)
class Optimizer:
    """Hyper-parameters; SGD ignores the beta/epsilon fields and Adam ignores momentum/nesterov."""

    name: str
    learning_rate: float
    momentum: float = 0.0
    nesterov: bool = False
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ConversionError(f"optimizer {self.name!r} is not supported; supported optimizers: {', '.join(OPTIMIZERS)}")
        if not self.learning_rate > 0:
            raise ConversionError(f"the learning rate must be positive, got {self.learning_rate}")
        if not 0 <= self.momentum < 1:
            raise ConversionError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.name == "adam" and (self.momentum or self.nesterov):
            raise ConversionError("momentum and nesterov apply to sgd only, not adam")

    def slot_names(self) -> tuple[str, ...]:
        """Per-weight state tensors: their names are ``{slot}_{weight name}``."""
        if self.name == "adam":
            return ("m", "v")
        return ("momentum",) if self.momentum else ()

    def scalar_state(self) -> tuple[str, ...]:
        return ("iterations",) if self.name == "adam" else ()

    def state_shapes(self, weights: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
        """State tensor name → shape for the trainable ``weights`` (name → shape): each weight's
        slots, then the scalars; the order of get_optimizer_state and the manifest."""
        shapes = {f"{slot}_{name}": shape for name, shape in weights.items() for slot in self.slot_names()}
        return {**shapes, **{name: () for name in self.scalar_state()}}

    def to_dict(self) -> dict[str, Any]:
        """The hyper-parameters this optimizer uses, as the manifest stores them."""
        return {key: value for key, value in asdict(self).items() if key not in _UNUSED_SETTINGS[self.name]}

    def keras(self) -> Any:
        """The equivalent Keras optimizer (for the parity check)."""
        import keras

        if self.name == "sgd":
            return keras.optimizers.SGD(self.learning_rate, momentum=self.momentum, nesterov=self.nesterov)
        return keras.optimizers.Adam(self.learning_rate, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)

    def apply(self, tf: Any, lr: Any, variables: dict[str, Any], grads: dict[str, Any], state: dict[str, Any]) -> list:
        """Update ``variables`` in place from ``grads``; returns the assign ops."""
        if self.name == "adam":
            return self._adam(tf, lr, variables, grads, state)
        return [op for name in grads for op in self._sgd(tf, lr, variables[name], grads[name], state.get(f"momentum_{name}"))]

    def _sgd(self, tf, lr, var, grad, velocity):
        if velocity is None:
            return [var.assign_sub(lr * grad)]
        new_velocity = velocity * self.momentum - lr * grad
        step = new_velocity * self.momentum - lr * grad if self.nesterov else new_velocity
        return [velocity.assign(new_velocity), var.assign_add(step)]

    def _adam(self, tf, lr, variables, grads, state):
        step = state["iterations"] + 1.0
        beta_1_power, beta_2_power = tf.pow(self.beta_1, step), tf.pow(self.beta_2, step)
        alpha = lr * tf.sqrt(1.0 - beta_2_power) / (1.0 - beta_1_power)
        updates = [state["iterations"].assign(step)]
        for name, grad in grads.items():
            m, v = state[f"m_{name}"], state[f"v_{name}"]
            new_m = m + (grad - m) * (1.0 - self.beta_1)
            new_v = v + (grad * grad - v) * (1.0 - self.beta_2)
            updates += [m.assign(new_m), v.assign(new_v),
                        variables[name].assign_sub(new_m * alpha / (tf.sqrt(new_v) + self.epsilon))]
        return updates
