"""Train a converted digits model through ``edge_sdk.TrainableModel`` only and print JSON results.

Run by the tests under each TFLite runtime (the legacy one has neither TensorFlow nor
scikit-learn), so the data comes in as an .npz file: x_train, y_train, x_test, y_test.

usage: python train_digits.py MODEL.tflite DATA.npz EPOCHS
"""

import json
import sys

import numpy as np

from edge_sdk import TrainableModel


def main(model_path: str, data_path: str, epochs: int) -> None:
    data = np.load(data_path)
    model = TrainableModel(model_path)
    history = model.fit(data["x_train"], data["y_train"], epochs=epochs, seed=0)
    metrics = model.evaluate(data["x_test"], data["y_test"])
    print(json.dumps({"runtime": str(model.runtime), "history": history, **metrics}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
