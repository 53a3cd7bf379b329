"""Train a converted ``x → Dropout → Dense(1, no bias)`` model (mse, plain SGD, batch 1) on an
all-ones row with target 0 and save what each step did, so the tests can read the dropout mask
back out of the weight update. Also records ``infer``/``evaluate`` twice and one step with Dropout
switched off.

Run by the tests under each TFLite runtime.

usage: python dropout_steps.py MODEL.tflite STEPS OUT.npz
"""

import sys

import numpy as np

from edge_sdk.runtime import open_interpreter


def main(model_path: str, steps: int, out_path: str) -> None:
    interpreter, info = open_interpreter(open(model_path, "rb").read())
    run = interpreter.get_signature_runner
    x = np.ones(run("train").get_input_details()["x"]["shape"], np.float32)
    y, mask, unused = np.zeros((1, 1), np.float32), np.ones(1, np.float32), np.zeros(1, np.float32)
    weights = [run("get_weights")(unused=unused)["head_kernel"][:, 0]]
    losses = []
    for _ in range(steps + 1):
        if len(losses) == steps:
            run("set_dropout")(enabled=np.array(0.0, np.float32))
        losses.append(float(run("train")(x=x, y=y, mask=mask)["loss"]))
        weights.append(run("get_weights")(unused=unused)["head_kernel"][:, 0])
    infer = [run("infer")(x=x)["output"][0, 0] for _ in range(2)]
    evaluate = [float(run("evaluate")(x=x, y=y, mask=mask)["loss"]) for _ in range(2)]
    np.savez(out_path, weights=np.array(weights), losses=np.array(losses), infer=np.array(infer),
             evaluate=np.array(evaluate))
    print(info)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
