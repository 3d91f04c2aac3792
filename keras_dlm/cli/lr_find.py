"""``keras-dlm lr-find``: the learning-rate range test on the embedded digits CNN."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``lr-find`` options to ``parser``."""
    parser.add_argument(
        "--min-lr", type=float, default=1e-5, help="first rate (default 1e-5)"
    )
    parser.add_argument(
        "--max-lr", type=float, default=10.0, help="last rate (default 10)"
    )
    parser.add_argument(
        "--num-steps", type=int, default=100, help="batches in the sweep (default 100)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=32, help="batch size (default 32)"
    )
    parser.add_argument(
        "--optimizer",
        choices=("sgd", "adam"),
        default="sgd",
        help="optimizer whose rate is swept (default sgd)",
    )
    parser.add_argument(
        "--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)"
    )
    parser.add_argument(
        "--smoothing", type=float, default=0.9, help="loss smoothing (default 0.9)"
    )
    parser.add_argument(
        "--stop-factor",
        type=float,
        default=4.0,
        help="stop when the smoothed loss exceeds this times the best (default 4)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--plot", metavar="PATH", default=None, help="write the loss-vs-rate plot here"
    )


def build_digits_cnn(optimizer: str = "sgd", momentum: float = 0.9):
    """The small CNN for the 8x8 digits used by ``lr-find``, compiled.

    conv(16, 3x3, relu) - maxpool(2) - flatten - dense(32, relu) - dense(10,
    softmax), sparse categorical cross-entropy.
    """
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    if optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate=0.01, momentum=momentum)
    else:
        opt = keras.optimizers.Adam(learning_rate=1e-3)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    return model


def run(args: argparse.Namespace) -> int:
    """Runs the range test, prints the suggestion, optionally writes the plot."""
    import keras

    from keras_dlm.datasets import load_digits
    from keras_dlm.lr_finder import lr_find

    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), _ = load_digits()
    model = build_digits_cnn(args.optimizer, args.momentum)
    result = lr_find(
        model,
        x_train,
        y_train,
        batch_size=args.batch_size,
        min_lr=args.min_lr,
        max_lr=args.max_lr,
        num_steps=args.num_steps,
        smoothing=args.smoothing,
        stop_factor=args.stop_factor,
    )
    print(
        f"digits CNN, {args.optimizer}"
        + (f" (momentum {args.momentum})" if args.optimizer == "sgd" else "")
        + f", batch {args.batch_size}, backend {keras.backend.backend()}"
    )
    print(f"{'learning rate':>14} {'loss':>8} {'smoothed':>9}")
    every = max(1, len(result.learning_rates) // 10)
    for index in range(0, len(result.learning_rates), every):
        print(
            f"{result.learning_rates[index]:14.3g} {result.losses[index]:8.4f} "
            f"{result.smoothed_losses[index]:9.4f}"
        )
    if result.stopped_early:
        print(
            f"stopped after {len(result.learning_rates)} steps: the smoothed loss "
            f"exceeded {args.stop_factor} x its best"
        )
    if result.suggestion is None:
        print("suggested learning rate: none (too few usable points)")
    else:
        print(f"suggested learning rate: {result.suggestion:.3g}")
    if args.plot:
        result.plot(args.plot)
        print(f"plot written to {args.plot}")
    return 0 if result.suggestion is not None else 1
