"""SGD paths on a 2-D non-convex loss: the start and the step size pick the basin.

The loss is a sum of three Gaussian wells (a "landscape" with three valleys)
plus a gentle bowl, written with keras.ops. The point (x, y) is the weight of
a one-layer Keras model whose output is the loss, so `train_on_batch` takes
one step of keras.optimizers.SGD with the backend's own autodiff. Runs from several starting points with plain SGD and
with momentum, at a small and a large learning rate, and plots every path on
the contour map (one PNG). Then prints which well each run ended in.

    KERAS_BACKEND=jax python examples/sgd_paths.py [--out sgd_paths.png]
"""

from __future__ import annotations

import argparse

import keras
import numpy as np
from keras import ops

# Wells: (centre x, centre y, depth, width).
WELLS = ((-1.5, 1.0, 1.0, 0.6), (1.4, 1.2, 1.4, 0.5), (0.2, -1.4, 1.8, 0.7))
STARTS = ((-0.2, 2.2), (0.3, 0.3), (2.3, -0.8), (-2.2, -1.2), (2.6, 2.4))
STEPS = 60


def loss_fn(point):
    """Non-convex loss of a 2-vector (keras tensor or variable)."""
    x, y = point[0], point[1]
    total = 0.05 * (x**2 + y**2)
    for cx, cy, depth, width in WELLS:
        total = total - depth * ops.exp(
            -((x - cx) ** 2 + (y - cy) ** 2) / (2 * width**2)
        )
    return total


class _Point(keras.layers.Layer):
    """Holds the 2-D point as a trainable weight; its output is the loss there."""

    def __init__(self, start, **kwargs):
        super().__init__(**kwargs)
        self.point = self.add_weight(
            shape=(2,), initializer=keras.initializers.Constant(start), name="point"
        )

    def call(self, inputs):
        return ops.zeros_like(inputs[:, :1]) + loss_fn(self.point)


def sgd_path(start, learning_rate, momentum):
    """Runs keras.optimizers.SGD from ``start``; returns the path (STEPS+1, 2).

    The point is the only weight of a tiny model whose output is the loss, so
    each ``train_on_batch`` is one SGD step with the backend's own autodiff.
    """
    layer = _Point(np.asarray(start, "float32"))
    model = keras.Sequential([keras.Input((1,)), layer])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum),
        loss=lambda y_true, y_pred: ops.mean(y_pred),
    )
    dummy = np.zeros((1, 1), "float32")
    path = [np.asarray(start, "float32")]
    for _ in range(STEPS):
        model.train_on_batch(dummy, dummy)
        path.append(np.array(ops.convert_to_numpy(layer.point)))
    return np.stack(path)


def nearest_well(point):
    distances = [np.hypot(point[0] - cx, point[1] - cy) for cx, cy, _, _ in WELLS]
    return int(np.argmin(distances)) if min(distances) < 0.8 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="sgd_paths.png", help="output PNG")
    args = parser.parse_args()

    settings = [
        ("SGD, lr 0.1", 0.1, 0.0),
        ("SGD, lr 0.9", 0.9, 0.0),
        ("momentum 0.9, lr 0.1", 0.1, 0.9),
    ]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.linspace(-3, 3, 121, dtype="float32")
    xx, yy = np.meshgrid(grid, grid)
    zz = ops.convert_to_numpy(loss_fn(np.stack([xx, yy])))
    figure, axes = plt.subplots(
        1, len(settings), figsize=(4.2 * len(settings), 4), sharey=True
    )
    print(f"{'setting':<22} {'start':>14}  final point        well  loss")
    for ax, (title, learning_rate, momentum) in zip(axes, settings, strict=True):
        ax.contourf(xx, yy, zz, levels=25, cmap="Greys_r")
        for index, start in enumerate(STARTS):
            path = sgd_path(start, learning_rate, momentum)
            ax.plot(path[:, 0], path[:, 1], "-", color=f"C{index}", lw=1.3)
            ax.plot(*path[0], "o", color=f"C{index}", ms=5)
            ax.plot(*path[-1], "*", color=f"C{index}", ms=11, mec="k")
            well = nearest_well(path[-1])
            final_loss = float(ops.convert_to_numpy(loss_fn(path[-1])))
            print(
                f"{title:<22} ({start[0]:5.1f},{start[1]:5.1f})  "
                f"({path[-1][0]:6.2f},{path[-1][1]:6.2f})  "
                f"{'-' if well is None else well:>6}  {final_loss:6.3f}"
            )
        ax.set_title(title)
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
        ax.set_xlabel("x")
    axes[0].set_ylabel("y")
    figure.suptitle(
        f"SGD paths ({STEPS} steps; o start, * end) — backend {keras.backend.backend()}"
    )
    figure.tight_layout()
    figure.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
