"""``keras-dlm lr-find``: the learning-rate range test on the embedded digits CNN."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``lr-find`` options to ``parser`` (defaults: lr_find's own)."""
    from keras_dlm import _lr_find_defaults as defaults

    parser.add_argument(
        "--min-lr",
        type=float,
        default=defaults.DEFAULT_MIN_LR,
        help=f"first rate (default {defaults.DEFAULT_MIN_LR:g})",
    )
    parser.add_argument(
        "--max-lr",
        type=float,
        default=defaults.DEFAULT_MAX_LR,
        help=f"last rate (default {defaults.DEFAULT_MAX_LR:g})",
    )
    parser.add_argument(
        "--num-steps",
        type=int,
        default=defaults.DEFAULT_NUM_STEPS,
        help=f"batches in the sweep (default {defaults.DEFAULT_NUM_STEPS})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=defaults.DEFAULT_BATCH_SIZE,
        help=f"batch size (default {defaults.DEFAULT_BATCH_SIZE})",
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
        "--smoothing",
        type=float,
        default=defaults.DEFAULT_SMOOTHING,
        help=f"loss smoothing (default {defaults.DEFAULT_SMOOTHING:g})",
    )
    parser.add_argument(
        "--stop-factor",
        type=float,
        default=defaults.DEFAULT_STOP_FACTOR,
        help="stop when the smoothed loss exceeds this times the best "
        f"(default {defaults.DEFAULT_STOP_FACTOR:g})",
    )
    parser.add_argument(
        "--method",
        choices=defaults.METHODS,
        default=defaults.DEFAULT_METHOD,
        help=f"fastai suggestion to report (default {defaults.DEFAULT_METHOD}); "
        "all four are printed",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--plot", metavar="PATH", default=None, help="write the loss-vs-rate plot here"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --plot file",
    )


def _check_arguments(args: argparse.Namespace) -> None:
    """Every option checked before any work: one line per mistake, exit 2."""
    from keras_dlm._checks import check_number, check_path_is_new
    from keras_dlm.cli._errors import CommandLineError

    try:
        check_number("--min-lr", args.min_lr, low=0.0, low_inclusive=False)
        check_number("--max-lr", args.max_lr, low=0.0, low_inclusive=False)
        if args.max_lr <= args.min_lr:
            raise CommandLineError(
                f"--max-lr ({args.max_lr:g}) must be larger than --min-lr "
                f"({args.min_lr:g})"
            )
        if args.num_steps < 2:
            raise CommandLineError(
                f"--num-steps must be at least 2, not {args.num_steps}"
            )
        if args.batch_size < 1:
            raise CommandLineError(
                f"--batch-size must be positive, not {args.batch_size}"
            )
        check_number(
            "--momentum", args.momentum, low=0.0, high=1.0, high_inclusive=False
        )
        check_number(
            "--smoothing", args.smoothing, low=0.0, high=1.0, high_inclusive=False
        )
        check_number("--stop-factor", args.stop_factor, low=1.0, low_inclusive=False)
        if args.plot:
            check_path_is_new("--plot", args.plot, overwrite=args.overwrite)
    except (TypeError, ValueError) as error:
        # The library's advice names its keyword; the command's is the option.
        message = str(error).replace("pass overwrite=True", "pass --overwrite")
        raise CommandLineError(message) from None


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
    _check_arguments(args)

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
        method=args.method,
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
    print(f"sweep {result.ending}")
    for name, rate in result.suggestions.items():
        print(f"  {name:>8}: {rate:.3g}")
    if result.suggestion is None:
        print("suggested learning rate: none (too few usable points)")
    else:
        print(f"suggested learning rate: {result.suggestion:.3g} ({result.method})")
    if args.plot:
        result.plot(args.plot)
        print(f"plot written to {args.plot}")
    return 0 if result.suggestion is not None else 1
