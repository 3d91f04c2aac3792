from __future__ import annotations

import re

import pytest

from keras_dlm.cli import main


def test_lr_find_prints_suggestion_and_writes_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "lr.png"
    status = main(
        [
            "lr-find",
            "--num-steps",
            "15",
            "--batch-size",
            "16",
            "--min-lr",
            "1e-4",
            "--max-lr",
            "3",
            "--plot",
            str(path),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    match = re.search(r"suggested learning rate: ([0-9.e+-]+)", out)
    assert match and 1e-4 <= float(match.group(1)) <= 3
    assert "digits CNN" in out and "sweep completed" in out
    for name in ("valley", "slide", "minimum", "steep"):
        assert f"{name}:" in out
    assert path.read_bytes()[:4] == b"\x89PNG"
    # The plot is the user's: not overwritten without --overwrite.
    assert main(["lr-find", "--num-steps", "5", "--plot", str(path)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_lr_find_help_lists_options(capsys):
    with pytest.raises(SystemExit):
        main(["lr-find", "--help"])
    out = capsys.readouterr().out
    for option in ("--min-lr", "--max-lr", "--num-steps", "--plot", "--optimizer"):
        assert option in out


def test_cli_and_api_share_their_defaults():
    import inspect

    from keras_dlm.cli._main import build_parser
    from keras_dlm.lr_finder import lr_find

    args = build_parser().parse_args(["lr-find"])
    parameters = inspect.signature(lr_find).parameters
    for name in ("min_lr", "max_lr", "num_steps", "smoothing", "stop_factor", "method"):
        assert getattr(args, name) == parameters[name].default, name


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--min-lr", "1", "--max-lr", "0.1"],
            "--max-lr (0.1) must be larger than --min-lr (1)",
        ),
        (["--max-lr", "inf"], "`--max-lr` must be in (0, inf)"),
        (["--min-lr", "nan"], "`--min-lr`"),
        (["--min-lr", "0"], "`--min-lr`"),
        (["--num-steps", "1"], "--num-steps must be at least 2"),
        (["--batch-size", "0"], "--batch-size must be positive"),
        (["--smoothing", "1"], "`--smoothing`"),
        (["--stop-factor", "1"], "`--stop-factor`"),
        (["--momentum", "1.5"], "`--momentum`"),
        (["--plot", "/no/such/folder/lr.png"], "`--plot`"),
    ],
)
def test_bad_options_are_one_line_and_exit_2_before_any_work(argv, message, capsys):
    assert main(["lr-find", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing ran
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-dlm lr-find: error: ")
    assert message in lines[0]
