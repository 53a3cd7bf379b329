"""Replay train steps on a converted model and save the losses and final weights.

Run by the tests under each TFLite runtime to compare them step for step.

usage: python replay_steps.py MODEL.tflite BATCHES.npz OUT.npz
BATCHES.npz holds x0, y0, mask0, x1, y1, mask1, ...
"""

import sys

import numpy as np

from edge_sdk.runtime import open_interpreter


def main(model_path: str, batches_path: str, out_path: str) -> None:
    interpreter, info = open_interpreter(open(model_path, "rb").read())
    batches = np.load(batches_path)
    if "set_dropout" in interpreter.get_signature_list():  # random masks would differ between the runs
        interpreter.get_signature_runner("set_dropout")(enabled=np.array(0.0, np.float32))
    train = interpreter.get_signature_runner("train")
    losses = [float(train(x=batches[f"x{i}"], y=batches[f"y{i}"], mask=batches[f"mask{i}"])["loss"])
              for i in range(len(batches.files) // 3)]
    weights = interpreter.get_signature_runner("get_weights")(unused=np.zeros(1, np.float32))
    np.savez(out_path, losses=np.array(losses), **{f"w_{name}": value for name, value in weights.items()})
    print(info)


if __name__ == "__main__":
    main(*sys.argv[1:4])
