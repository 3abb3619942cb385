"""The Keras model: a small dense network over the 64 pixels (scaled inside the model so a
saved model takes raw 0..16 pixels), seeded training, evaluation and fast prediction."""
from __future__ import annotations

import os
import tempfile

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

N_FEATURES, N_CLASSES, MAX_PIXEL = 64, 10, 16
MODEL_FILE = "model.keras"


def _keras():
    import keras

    return keras


def seed_everything(seed: int) -> None:
    import tensorflow as tf

    keras = _keras()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def build(hidden_units: int, learning_rate: float):
    keras = _keras()
    model = keras.Sequential([
        keras.Input(shape=(N_FEATURES,), name="pixels"),
        keras.layers.Rescaling(1.0 / MAX_PIXEL),
        keras.layers.Dense(hidden_units, activation="relu"),
        keras.layers.Dense(N_CLASSES, activation="softmax"),
    ])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def fit(model, X: np.ndarray, y: np.ndarray, epochs: int, batch_size: int) -> None:
    model.fit(X.astype(np.float32), y.astype(np.int64), epochs=epochs, batch_size=batch_size,
              shuffle=True, verbose=0)


def predict_proba(model, X: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Class probabilities: one direct call per chunk. Large chunks amortise the per-call
    cost, and an eager call does not retrace a tf.function for every new chunk shape."""
    out = [np.asarray(model(X[i:i + chunk].astype(np.float32), training=False))
           for i in range(0, len(X), chunk)]
    return np.concatenate(out) if out else np.zeros((0, N_CLASSES), np.float32)


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    cm = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    np.add.at(cm, (y_true.astype(np.int64), y_pred.astype(np.int64)), 1)
    return cm


def metrics_from(y_true: np.ndarray, proba: np.ndarray) -> dict:
    """Accuracy, cross-entropy loss, per-class precision/recall/F1 and the confusion matrix
    (rows: true class, columns: predicted)."""
    y_true = y_true.astype(np.int64)
    pred = proba.argmax(axis=1)
    cm = confusion(y_true, pred)
    p_true = np.clip(proba[np.arange(len(y_true)), y_true], 1e-7, 1.0)
    per_class = {}
    for c in range(N_CLASSES):
        tp = int(cm[c, c])
        predicted, actual = int(cm[:, c].sum()), int(cm[c, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[str(c)] = {"precision": round(precision, 6), "recall": round(recall, 6),
                             "f1": round(f1, 6), "support": actual}
    n = len(y_true)
    return {
        "accuracy": round(float((pred == y_true).mean()), 6) if n else 0.0,
        "loss": round(float(-np.log(p_true).mean()), 6) if n else 0.0,
        "rows": n,
        "perClass": per_class,
        "confusionMatrix": cm.tolist(),
    }


def to_bytes(model) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, MODEL_FILE)
        model.save(path)
        with open(path, "rb") as f:
            return f.read()


def from_bytes(data: bytes):
    keras = _keras()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, MODEL_FILE)
        with open(path, "wb") as f:
            f.write(data)
        return keras.models.load_model(path, compile=False)
