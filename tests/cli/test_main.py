from __future__ import annotations

import subprocess
import sys

import keras
import pytest

from keras_dlm import __version__
from keras_dlm.cli import CommandLineError, main
from keras_dlm.cli.info import collect_info


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"keras-dlm {__version__}"


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage: keras-dlm" in capsys.readouterr().out


def test_unknown_command_fails(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_info_reports_active_backend(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"backend     {keras.backend.backend()}" in out
    assert f"keras           {keras.__version__}" in out


def test_collect_info_lists_a_cpu_device():
    info = collect_info()
    assert info["backend"] == keras.backend.backend()
    assert any(device.upper().startswith("CPU") for device in info["devices"])


def test_console_script_runs_as_module():
    completed = subprocess.run(
        [sys.executable, "-m", "keras_dlm.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.strip() == f"keras-dlm {__version__}"


def _raise_user_error(args):
    raise CommandLineError("--corpus missing.txt does not exist")


def test_user_error_is_one_line_and_status_2(monkeypatch, capsys):
    import keras_dlm.cli.info as info_module

    monkeypatch.setattr(info_module, "run", _raise_user_error)
    assert main(["info"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "keras-dlm info: error: --corpus missing.txt does not exist\n"
    )
    with pytest.raises(CommandLineError):
        main(["--debug", "info"])
