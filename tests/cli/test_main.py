from __future__ import annotations

import fnmatch
import os
import re
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


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            ["word2vec", "--workers", "1.5", "corpus.txt"],
            "keras-dlm word2vec: error: argument --workers: invalid int value: "
            "'1.5' (see 'keras-dlm word2vec --help')",
        ),
        (
            ["tune", "--no-such-option"],
            "keras-dlm: error: unrecognized arguments: --no-such-option "
            "(see 'keras-dlm --help')",
        ),
        (
            ["word2vec", "--mode", "glove"],
            # (argparse quotes the choices on some Python versions only)
            "keras-dlm word2vec: error: argument --mode: invalid choice: 'glove' "
            "(choose from *) (see 'keras-dlm word2vec --help')",
        ),
    ],
)
def test_a_malformed_option_is_one_line_and_status_2(argv, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.endswith("\n") and captured.err.count("\n") == 1
    assert fnmatch.fnmatchcase(captured.err.rstrip("\n"), expected), captured.err
    assert captured.out == ""


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


def _run_info(**environment):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(environment)
    return subprocess.run(
        [sys.executable, "-m", "keras_dlm.cli", "info"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=True,
    )


def test_a_fresh_command_prints_no_startup_logs():
    """No TensorFlow banner, CUDA probe or absl line: stderr stays empty."""
    completed = _run_info()
    assert completed.stderr == ""
    assert f"backend     {keras.backend.backend()}" in completed.stdout


@pytest.mark.slow  # test_a_set_log_level_is_not_changed covers it in-process
@pytest.mark.tf_only
def test_a_users_log_level_is_respected():
    # At level 0 TensorFlow logs its start-up at INFO level ("I0000 ..."),
    # which the command then leaves alone.
    completed = _run_info(TF_CPP_MIN_LOG_LEVEL="0")
    assert re.search(r"^I\d{4} ", completed.stderr, re.MULTILINE), completed.stderr


def test_startup_filter_keeps_other_lines(capfd):
    from keras_dlm.cli._main import _STARTUP_NOISE, _stderr_without

    with _stderr_without(_STARTUP_NOISE):
        os.write(
            2,
            b"I0000 00:00:1 1 cudart_stub.cc:31] Could not find cuda drivers on "
            b"your machine, GPU will not be used.\n"
            b"E0000 00:00:1 1 cuda_platform.cc:52] failed call to cuInit: x\n"
            b"a real error\n",
        )
        print("a Python warning", file=sys.stderr)
    # (Under pytest sys.stderr is not descriptor 2, so the order may differ.)
    assert sorted(capfd.readouterr().err.splitlines()) == [
        "a Python warning",
        "a real error",
    ]


def test_a_set_log_level_is_not_changed(monkeypatch, capsys):
    import keras_dlm.cli._main as main_module

    filtered = []
    monkeypatch.setattr(
        main_module, "_stderr_without", lambda noise: filtered.append(noise)
    )
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    assert main(["info"]) == 0
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
    assert filtered == []  # TensorFlow's own output is left alone
    capsys.readouterr()


def test_parser_starts_no_backend():
    """`keras-dlm --help` and the quiet start-up rely on it: building the
    parser imports no Keras (every subcommand imports its work in `run`)."""
    code = (
        "import sys; from keras_dlm.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') "
        "if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
