"""Keras → trainable TensorFlow Lite models that train on the stock interpreter (no Flex ops)."""

__all__: list[str] = []
