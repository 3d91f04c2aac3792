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
    assert "digits CNN" in out
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_lr_find_help_lists_options(capsys):
    with pytest.raises(SystemExit):
        main(["lr-find", "--help"])
    out = capsys.readouterr().out
    for option in ("--min-lr", "--max-lr", "--num-steps", "--plot", "--optimizer"):
        assert option in out
