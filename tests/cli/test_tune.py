from __future__ import annotations

import csv
import json
import os
import re
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_dlm.cli import CommandLineError, main
from keras_dlm.cli.tune import configure_distributed, parse_oracle
from keras_dlm.datasets import load_digits
from keras_dlm.tuning import SearchSpace

BACKEND = keras.backend.backend()
_KT_ENV = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


@pytest.fixture(autouse=True)
def clean_env():
    """Undoes the KERASTUNER_* variables that the CLI sets in this process.

    monkeypatch.delenv records nothing for a variable that is not set, so it
    would not undo the CLI's own writes to os.environ; left set, they turn
    every later search in this process into a worker waiting for a chief.
    """
    saved = {name: os.environ.pop(name, None) for name in _KT_ENV}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def tiny_npz(tmp_path):
    (x, y), (x_test, y_test) = load_digits()
    path = tmp_path / "tiny.npz"
    np.savez(
        path, x_train=x[:160], y_train=y[:160], x_test=x_test[:60], y_test=y_test[:60]
    )
    return str(path)


def _tune(tmp_path, tiny_npz, *extra):
    return [
        "tune", "--dataset", tiny_npz, "--model", "mlp", "--tuner", "random",
        "--max-trials", "2", "--epochs", "1", "--directory", str(tmp_path / "runs"),
        "--seed", "1", "--lr-range", "1e-3,0.3", "--retrain-epochs", "0", *extra,
    ]  # fmt: skip


_LOAD_IN_A_FRESH_PROCESS = """
import sys
import keras_dlm  # the only import a user of the file should need
import keras
import numpy as np
model = keras.models.load_model(sys.argv[1])
data = np.load(sys.argv[2])
predicted = np.argmax(model.predict(data["x_test"], verbose=0), -1)
print(model.optimizer.get_config()["learning_rate"]["class_name"],
      float(np.mean(predicted == data["y_test"])))
"""


def test_tune_writes_the_four_files_and_resumes(tmp_path, tiny_npz, capsys, clean_env):
    assert main(_tune(tmp_path, tiny_npz, "--schedules", "step")) == 0
    out = capsys.readouterr().out
    assert len(re.findall(r"\[tuner0\] trial \d+\s+COMPLETED", out)) == 2
    project = tmp_path / "runs" / "mlp-tiny"
    files = {name: project / name for name in (
        "best_hyperparameters.json", "trials.csv", "trials.png", "best_model.keras")}  # fmt: skip
    assert all(path.is_file() for path in files.values())

    best = json.loads(files["best_hyperparameters.json"].read_text())
    assert set(best) == set(SearchSpace(schedules=("step",), optimizers="adam").names())
    with open(files["trials.csv"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["status"] for row in rows] == ["COMPLETED", "COMPLETED"]
    best_row = max(rows, key=lambda row: float(row["val_accuracy"]))
    assert float(best_row["dropout"]) == pytest.approx(best["dropout"])
    assert float(best_row["learning_rate"]) == pytest.approx(best["learning_rate"])
    assert files["trials.png"].read_bytes()[:4] == b"\x89PNG"
    assert "2 of 2 trials completed, 0 failed" in out

    # The saved model reproduces the test accuracy the command printed.
    import keras_dlm.schedules  # noqa: F401  (see the fresh-process test below)

    model = keras.saving.load_model(files["best_model.keras"])
    printed = float(re.search(r"test accuracy (\d\.\d+)", out).group(1))
    (_, _), (x_test, y_test) = load_digits()
    predicted = np.argmax(model.predict(x_test[:60], verbose=0), -1)
    assert np.mean(predicted == y_test[:60]) == pytest.approx(printed, abs=5e-5)

    # --resume of a finished search runs no trial and reports the same trials.
    before = files["trials.csv"].read_text()
    assert main(_tune(tmp_path, tiny_npz, "--schedules", "step", "--resume")) == 0
    captured = capsys.readouterr()
    assert "[tuner0] trial" not in captured.out
    assert "2 of 2 trials completed" in captured.out
    assert "warning" not in captured.err

    # Without --resume, a finished search is not replaced: one line, exit 2.
    assert main(_tune(tmp_path, tiny_npz)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "--overwrite" in captured.err
    assert files["trials.csv"].read_text() == before

    # --resume under a tuner id without a state file: keras-tuner would start
    # afresh over the old trials; the command refuses instead.
    assert main(_tune(tmp_path, tiny_npz, "--resume", "--tuner-id", "tuner9")) == 2
    captured = capsys.readouterr()
    assert "tuner9.json is missing" in captured.err
    assert "tuner0" in captured.err and "Not resuming" in captured.err
    assert captured.out == ""  # refused before the search began
    assert files["trials.csv"].read_text() == before
    assert not (project / "tuner9.json").exists()

    # --overwrite starts afresh.
    assert main(_tune(tmp_path, tiny_npz, "--overwrite", "--max-trials", "1")) == 0
    assert "1 of 1 trials completed" in capsys.readouterr().out
    with open(files["trials.csv"], newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 1


def test_best_model_loads_in_a_fresh_process(tmp_path, tiny_npz, capsys, clean_env):
    # --schedules step: the saved optimizer holds a keras_dlm StepDecay, which
    # must load after `import keras_dlm` alone (no keras_dlm.schedules import).
    args = _tune(tmp_path, tiny_npz, "--schedules", "step", "--max-trials", "1")
    assert main(args) == 0
    out = capsys.readouterr().out
    loaded = subprocess.run(
        [sys.executable, "-c", _LOAD_IN_A_FRESH_PROCESS,
         str(tmp_path / "runs" / "mlp-tiny" / "best_model.keras"), tiny_npz],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "KERAS_BACKEND": BACKEND, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    schedule, accuracy = loaded.stdout.split()[-2:]
    assert schedule == "StepDecay"
    printed = float(re.search(r"test accuracy (\d\.\d+)", out).group(1))
    assert float(accuracy) == pytest.approx(printed, abs=5e-5)


def test_default_pipeline_range_tests_and_retraining(
    tmp_path, tiny_npz, capsys, clean_env
):
    # The default learning-rate range (the range tests) and the retraining on
    # all training data, kept small: one trial, one epoch, two epochs retrained.
    args = _tune(tmp_path, tiny_npz, "--max-trials", "1", "--lr-range", "auto",
                 "--retrain-epochs", "2", "--time-budget", "10m")  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    found = re.search(r"adam: learning rate (\S+) \.\.\. (\S+) \(range tests: ", out)
    assert found, out
    project = tmp_path / "runs" / "mlp-tiny"
    saved = json.loads((project / "lr_range.json").read_text())
    # One decade around the median suggestion.
    assert saved["high"] / saved["low"] == pytest.approx(10.0, rel=1e-6)
    best = json.loads((project / "best_hyperparameters.json").read_text())
    assert saved["low"] <= best["learning_rate"] <= saved["high"]
    retrained = re.search(
        r"retrained the best configuration on all 160 training examples .* for 2 "
        r"epochs, cosine decay .*: test accuracy (\d\.\d+)",
        out,
    )
    assert retrained, out
    assert "best trial's model (trial 0, trained on the first 80%" in out
    # best_model.keras is the retrained model.
    import keras_dlm.schedules  # noqa: F401

    model = keras.saving.load_model(project / "best_model.keras")
    (_, _), (x_test, y_test) = load_digits()
    predicted = np.argmax(model.predict(x_test[:60], verbose=0), -1)
    assert np.mean(predicted == y_test[:60]) == pytest.approx(
        float(retrained.group(1)), abs=5e-5
    )
    # Its rate fell from the best trial's to 0 over the 2 epochs of
    # ceil(160 / 32) = 5 steps (cosine decay).
    schedule = model.optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert schedule["config"]["decay_steps"] == 10
    assert schedule["config"]["initial_learning_rate"] == pytest.approx(
        best["learning_rate"]
    )
    # --resume keeps the measured range instead of measuring again.
    args = _tune(tmp_path, tiny_npz, "--max-trials", "1", "--lr-range", "auto",
                 "--resume")  # fmt: skip
    assert main(args) == 0
    assert f"(from {project / 'lr_range.json'})" in capsys.readouterr().out


@pytest.mark.skipif(BACKEND == "tensorflow", reason="checks the non-TensorFlow refusal")
@pytest.mark.parametrize(
    "option", [["--tensorboard", "logs"], ["--strategy", "mirrored"]]
)
def test_tensorflow_only_options_are_refused(
    tmp_path, tiny_npz, capsys, clean_env, option
):
    assert main(_tune(tmp_path, tiny_npz, *option)) == 2
    assert "requires the 'tensorflow' Keras backend" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--dataset", "missing.npz"], "does not exist"),
        (["--dataset", "mnist"], "--dataset"),
        (["--max-trials", "0"], "--max-trials"),
        (["--schedules", "none,linear"], "linear"),
        (["--distributed", "worker", "--oracle", "127.0.0.1:99999"], "--oracle"),
        (["--distributed", "chief", "--tuner-id", "boss"], "chief"),
        (["--model", "transfer"], "backbone"),
        (["--backbone", "module"], "backbone"),
        (["--seed", "-1"], "--seed"),
        (["--directory", "FILE"], "--directory"),
        (["--output-dir", "FILE"], "--output-dir"),
        (["--resume", "--overwrite"], "exclude each other"),
        (["--project-name", "a/b"], "--project-name"),
        (["--time-budget", "soon"], "--time-budget"),
        (["--time-budget=-5m"], "--time-budget"),
        (["--lr-range", "0.1,0.01"], "--lr-range"),
        (["--lr-range", "nan,1"], "--lr-range"),
        (["--retrain-epochs", "-1"], "--retrain-epochs"),
        (["--dataset", "FILE"], "not a readable .npz"),
    ],
)
def test_bad_options(tmp_path, tiny_npz, capsys, clean_env, extra, match):
    # Every input is checked before the first trial: a user error is one
    # line on stderr and exit status 2, and no folder is created.
    a_file = tmp_path / "a-file.npz"
    a_file.write_text("not a folder, not an archive")
    extra = [str(a_file) if value == "FILE" else value for value in extra]
    assert main(_tune(tmp_path, tiny_npz, *extra)) == 2
    captured = capsys.readouterr()
    assert match in captured.err and captured.err.count("\n") == 1, captured.err
    assert captured.out == ""
    assert not (tmp_path / "runs").exists()


@pytest.mark.tf_only
def test_tune_transfer_family(tmp_path, tiny_npz, capsys, clean_env):
    from keras_dlm.transfer import export_hub_module

    body = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(12)]
    )
    handle = export_hub_module(body, str(tmp_path / "module"))
    args = _tune(tmp_path, tiny_npz, "--model", "transfer", "--backbone", handle,
                 "--max-trials", "1")  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    project = tmp_path / "runs" / "transfer-tiny"
    assert (project / "best_model.keras").is_file()
    # A .keras file holding a HubBackbone runs a TensorFlow graph when loaded.
    model = keras.saving.load_model(project / "best_model.keras", safe_mode=False)
    # The search trained the head only: the backbone still computes the body.
    (_, _), (x_test, y_test) = load_digits()
    backbone = model.layers[1]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(backbone(x_test[:5])),
        body.predict(x_test[:5], verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )
    printed = float(re.search(r"test accuracy (\d\.\d+)", out).group(1))
    accuracy = np.mean(
        np.argmax(model.predict(x_test[:60], verbose=0), -1) == y_test[:60]
    )
    assert accuracy == pytest.approx(printed, abs=5e-5)


def test_parse_oracle():
    assert parse_oracle("127.0.0.1:8123") == ("127.0.0.1", 8123)
    assert parse_oracle("9000") == ("127.0.0.1", 9000)
    assert parse_oracle("[::1]:7000") == ("::1", 7000)
    with pytest.raises(CommandLineError, match="HOST:PORT"):
        parse_oracle("localhost:http")


def test_configure_distributed_sets_keras_tuner_variables(clean_env, capsys):
    from keras_dlm.cli._main import build_parser

    parser = build_parser()
    args = parser.parse_args(
        ["tune", "--distributed", "chief", "--oracle", "127.0.0.1:8123"]
    )
    assert configure_distributed(args) == "chief"
    assert os.environ["KERASTUNER_ORACLE_IP"] == "127.0.0.1"
    assert os.environ["KERASTUNER_ORACLE_PORT"] == "8123"
    assert os.environ["KERASTUNER_TUNER_ID"] == "chief"
    assert capsys.readouterr().err == ""
    args = parser.parse_args(["tune", "--distributed", "worker"])
    worker_id = configure_distributed(args)
    assert (
        worker_id.startswith("worker-")
        and os.environ["KERASTUNER_TUNER_ID"] == worker_id
    )
    assert os.environ["KERASTUNER_ORACLE_PORT"] == "8000"
    # Anything but loopback is warned about: the oracle has no authentication.
    args = parser.parse_args(
        ["tune", "--distributed", "chief", "--oracle", "0.0.0.0:8123"]
    )
    configure_distributed(args)
    assert "without authentication" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_distributed_search_on_localhost(tmp_path, tiny_npz):
    """One chief and two workers share a directory; every trial runs exactly once."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    env["KERAS_BACKEND"] = BACKEND
    command = [
        sys.executable, "-m", "keras_dlm.cli", "tune", "--dataset", tiny_npz,
        "--model", "mlp", "--tuner", "random", "--max-trials", "2", "--epochs", "1",
        "--directory", str(tmp_path / "shared"), "--oracle", f"127.0.0.1:{port}",
        "--lr-range", "1e-3,0.3", "--retrain-epochs", "0",
    ]  # fmt: skip
    roles = [("chief", ["--distributed", "chief"])] + [
        (f"worker{i}", ["--distributed", "worker", "--tuner-id", f"worker-{i}"])
        for i in (1, 2)
    ]
    processes, logs = {}, {}
    # A worker would wait an hour for a chief; 8 minutes leave room for a
    # machine shared with other work (three TensorFlow start-ups).
    deadline = time.monotonic() + 480
    try:
        for name, options in roles:
            logs[name] = open(tmp_path / f"{name}.log", "w+")  # noqa: SIM115
            processes[name] = subprocess.Popen(
                command + options, stdout=logs[name], stderr=subprocess.STDOUT, env=env
            )
            if name == "chief":
                # The chief resets the shared project before it serves: let it
                # do so before the workers start writing there.
                while "chief: serving" not in (tmp_path / "chief.log").read_text():
                    assert processes["chief"].poll() is None, "the chief exited early"
                    assert time.monotonic() < deadline, "the chief did not start"
                    time.sleep(0.2)
        for name, process in processes.items():
            remaining = max(1.0, deadline - time.monotonic())
            try:
                process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{name} did not finish in time")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
        outputs = {}
        for name, handle in logs.items():
            handle.seek(0)
            outputs[name] = handle.read()
            handle.close()
    for name, process in processes.items():
        assert process.returncode == 0, f"{name} failed:\n{outputs[name][-3000:]}"

    ran = []
    for i in (1, 2):
        ran += re.findall(
            rf"\[worker-{i}\] trial (\d+)\s+COMPLETED", outputs[f"worker{i}"]
        )
    assert sorted(ran) == ["0", "1"], outputs  # each trial exactly once
    assert "[chief] trial" not in outputs["chief"]  # the chief trains nothing
    project = tmp_path / "shared" / "mlp-tiny"
    with open(project / "trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["trial"] for row in rows) == ["0", "1"]
    assert {row["status"] for row in rows} == {"COMPLETED"}
    assert (project / "best_model.keras").is_file()


def test_retraining_epochs_under_a_time_budget(capsys):
    from types import SimpleNamespace

    from keras_dlm.cli.tune import _retrain_epochs_that_fit
    from keras_dlm.tuning import TrialTiming

    # Trials cost 4 s (2 s of it tracing) plus 0.5 s an epoch; the
    # retraining pays the tracing, its epochs see 1.25x the data (0.625 s),
    # and one of them is kept for evaluating and saving.
    result = SimpleNamespace(
        timing=TrialTiming(overhead=4.0, epoch=0.5, trace=2.0), completed_trials=[]
    )
    args = SimpleNamespace(retrain_epochs=30, epochs=8)
    assert _retrain_epochs_that_fit(result, 100.0, 1.25, args) == 30
    # (12.625 - 0.625 - 2) / 0.625 = 16 epochs.
    assert _retrain_epochs_that_fit(result, 12.625, 1.25, args) == 16
    assert "16 retraining epochs fit" in capsys.readouterr().out
    # Fewer than twice a trial's epochs: no retraining, the best trial's
    # model stays. (15 - 0.625 - 2) / 0.625 = 19.8 epochs; 12 give 15.2.
    assert _retrain_epochs_that_fit(result, 15.0, 1.25, args) == 19
    assert _retrain_epochs_that_fit(result, 12.0, 1.25, args) == 0
    assert "not retrained, keeping the best trial's model" in capsys.readouterr().out


def test_the_default_keeps_to_a_small_time_budget(tmp_path, tiny_npz, capsys):
    # The whole default pipeline (range tests, Bayesian trials, retraining)
    # in 20 s: it plans from what it measures and ends within one epoch.
    budget = 20.0
    start = time.perf_counter()
    argv = ["tune", "--dataset", tiny_npz, "--model", "mlp", "--directory",
            str(tmp_path / "runs"), "--time-budget", f"{budget:g}", "--epochs", "3"]  # fmt: skip
    assert main(argv) == 0
    wall = time.perf_counter() - start
    out = capsys.readouterr().out
    cost = re.search(r"trial cost: (\S+) s fixed .*\) \+ (\S+) s an epoch", out)
    if cost:
        epoch = float(cost.group(2)) * 160 / 128  # a retraining epoch sees all 160
    else:
        # No trial ran a second epoch (under load the range tests and one
        # trial can use the budget): the only epochs' cost is unknown, and
        # the longest trial's whole time bounds one.
        seconds = re.findall(r"^\s*\*?\d+\s+COMPLETED\s+\S+\s+(\S+)", out, re.MULTILINE)
        assert seconds, out
        epoch = max(float(value) for value in seconds)
    assert wall <= budget + epoch, out
    trials = re.search(r"search: (\d+) trials run, stopped by the time budget", out)
    assert trials and int(trials.group(1)) >= 1, out
    # The retraining got the time the trials left, within --retrain-epochs,
    # or the command said why there was none (fewer than 2 x 3 epochs fit).
    retrained = re.search(r"for (\d+) epochs, cosine decay .*test accuracy", out)
    if retrained:
        assert 6 <= int(retrained.group(1)) <= 30, out
    else:
        assert "fewer than 6 retraining epochs (2x a trial's) fit" in out, out
        assert "not retrained, keeping the best trial's model" in out, out
    assert re.search(r"best trial's model .*: test accuracy \d\.\d+", out)


def test_a_retraining_that_does_not_beat_the_best_trial_is_not_kept(
    tmp_path, tiny_npz, capsys, monkeypatch
):
    # A retraining that wrecks the model (here: every weight zeroed, so every
    # example gets class 0) must not replace the best trial's model.
    from keras_dlm.tuning._result import SearchResult

    retrain_best = SearchResult.retrain_best

    def wrecked(self, *args, **kwargs):
        model = retrain_best(self, *args, **kwargs)
        for variable in model.trainable_variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))
        return model

    monkeypatch.setattr(SearchResult, "retrain_best", wrecked)
    # A learning rate that learns the tiny set on every backend and seed.
    args = _tune(tmp_path, tiny_npz, "--max-trials", "1", "--epochs", "8",
                 "--lr-range", "3e-3,1e-2", "--retrain-epochs", "1")  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    best = re.search(
        r"best trial's model \(trial 0, .*\): test accuracy (\d\.\d+)", out
    )
    assert best, out
    assert "not above the best trial's" in out, out
    assert "keeping the best trial's model as best_model.keras" in out
    model = keras.saving.load_model(tmp_path / "runs" / "mlp-tiny" / "best_model.keras")
    (_, _), (x_test, y_test) = load_digits()
    predicted = np.argmax(model.predict(x_test[:60], verbose=0), -1)
    # The saved model is the best trial's, not the zeroed one (which
    # predicts class 0 for every digit).
    assert len(np.unique(predicted)) > 1
    assert np.mean(predicted == y_test[:60]) == pytest.approx(
        float(best.group(1)), abs=5e-5
    )
