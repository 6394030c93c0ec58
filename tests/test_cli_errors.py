"""No command-line program of the project prints a traceback for a user error: one line, exit status 2.

Every program's bad command lines run in one process (tests/cli_user_errors.py: TensorFlow starts once); two
run as real processes, to cover the `python <program>` entry and the MediaPipe tool, whose checks of its
arguments run before mediapipe is imported (so they run in this environment too).
"""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}


def _cases(tmp_path):
    """{program: [(argv, text the message must hold)]}."""
    file = tmp_path / "a_file"
    file.write_text("not a directory")
    return {
        "tflite/convert.py": [
            (["--model=resnet20", "--modes=float32", "--io_type=uint8"], "io_type 'uint8' with mode 'float32'"),
            (["--model=resnet20", "--calibration_count=0"], "calibration_count must be a positive integer"),
            (["--model=resnet20", "--modes=float64"], "Unknown quantization mode 'float64'"),
            (["--model=resnet20", f"--output_dir={file}"], "output_dir"),
            (["--model=/nowhere/model.keras", f"--output_dir={tmp_path}"], "No such model file"),
            (["--model=resnet20", "--io_type=int16"], "<float32|uint8|int8>"),
            (["--model=resnet20", "--calibration_count=many"], "--calibration_count"),
            (["--model=resnet20", "int8"], "unexpected arguments ['int8']"),
            ([], "--model"),
        ],
        "tflite/benchmark.py": [
            (["--threads=0"], "threads must be a positive integer"),
            (["--threads=two"], "threads must be a positive integer"),
            (["--runs=0"], "runs must be a positive integer"),
            (["--models=resnet20=int9"], "Unknown quantization mode 'int9'"),
            ([f"--output_dir={file}"], "output_dir"),
        ],
        "tflite/benchmark_conv.py": [
            (["--shapes=56x64"], "must be SIZExINxOUTxKERNEL"),
            (["--threads=0"], "threads must be a positive integer"),
            ([f"--output_dir={file}"], "output_dir"),
        ],
        "tflite/qat.py": [
            ([], "--model_path"),
            (["--model_path=m.keras", f"--output={file}/q.tflite"], "the directory of output"),
            (["--model_path=m.keras", f"--output={tmp_path}/q.tflite", "--batch_size=0"],
             "--batch_size must be an integer >= 1"),
            (["--model_path=m.keras", f"--output={tmp_path}/q.tflite", "--io_type=int4"], "--io_type"),
            (["--model_path=m.keras", f"--output={tmp_path}/q.tflite", "--model_overrides=[1]"],
             "--model_overrides must be a JSON object"),
            (["--model_path=m.keras", f"--output={tmp_path}/q.tflite", "extra"], "unexpected arguments ['extra']"),
        ],
        "tflite/prune.py": [
            (["--output=p.tflite"], "--model_path"),
            (["--model_path=m.keras", f"--output={tmp_path}/p.tflite", "--momentum=1.5"], "momentum must be in [0, 1)"),
        ],
        "apps/train.py": [
            (["--batch_size=0"], "--batch_size must be an integer >= 1; got 0."),
            (["--recipe=cifar11"], "--recipe"),
            (["--model_overrides=[1]"], "--model_overrides must be a JSON object"),
            (["--model=resnet20", "--epochs=0"], "--epochs or --train_steps must be >= 1"),
            (["runs/x"], "unexpected arguments ['runs/x']"),
        ],
        "apps/study.py": [
            ([f"--output_dir={tmp_path}/study"], "--study and --output_dir are required"),
            (["--study=nope", f"--output_dir={tmp_path}/study"], "Unknown study 'nope'"),
            (["gradient_flow"], "unexpected arguments ['gradient_flow']"),
        ],
        "apps/model_summary.py": [
            (["--model=resnet5"], "Unknown model 'resnet5'"),
            (["resnet50"], "unexpected arguments"),
        ],
        "apps/benchmark_forward.py": [
            (["--batch_sizes=0"], "batch_sizes must be a positive integer"),
            (["--rounds=0"], "rounds must be a positive integer"),
        ],
        "apps/benchmark_input.py": [
            (["--source=folder:/nowhere"], "Data directory '/nowhere' does not exist"),
            (["--steps=0"], "steps must be a positive integer"),
            (["--batch_size=0"], "batch_size must be a positive integer"),
            (["--recipe=auto"], "--recipe"),
        ],
    }


def _assert_user_error(program, argv, status, output, expected):
    where = f"{program} {' '.join(argv)}:\n{output}"
    assert status == 2, where
    assert "Traceback" not in output, where
    assert expected in output, where


def test_every_program_reports_user_errors_in_one_line(tmp_path):
    cases = _cases(tmp_path)
    (tmp_path / "cases.json").write_text(json.dumps({program: [argv for argv, _ in lines]
                                                     for program, lines in cases.items()}))
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "cli_user_errors.py"), str(tmp_path / "cases.json"),
                    str(tmp_path / "results.json")], cwd=tmp_path, env=ENV, check=True, timeout=600)
    results = json.loads((tmp_path / "results.json").read_text())
    expected = [(program, argv, message) for program, lines in cases.items() for argv, message in lines]
    assert [(program, argv) for program, argv, _, _ in results] == [(program, argv) for program, argv, _ in expected]
    for (program, argv, status, output), (_, _, message) in zip(results, expected):
        _assert_user_error(program, argv, status, output, message)


@pytest.mark.parametrize("program,argv,message", [
    ("tflite/convert.py", ["--model=resnet20", "--modes=float32", "--io_type=uint8"], "fold the preprocessing in"),
    ("tflite/mediapipe/add_metadata.py", ["model.tflite", "--labels=missing.txt", "--output=out.tflite", "--name=m"],
     "--labels 'missing.txt' is not a file"),
])
def test_a_program_started_as_a_process(tmp_path, program, argv, message):
    (tmp_path / "model.tflite").write_bytes(b"TFL3")
    done = subprocess.run([sys.executable, os.path.join(ROOT, program), *argv], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=300)
    _assert_user_error(program, argv, done.returncode, done.stdout + done.stderr, message)
