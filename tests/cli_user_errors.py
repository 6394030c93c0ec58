"""Runs the project's absl command-line programs in one process, each on a list of bad command lines.

    python tests/cli_user_errors.py CASES.json RESULTS.json   (RESULTS: [[program, argv, exit status, output], ...])

CASES.json maps a program's path (relative to the repository) to its bad command lines. Each program is loaded
once, and each command line goes through keras_resnets.cli.run as `python <program> ...` would; the program's
flags are removed before the next program is loaded, so programs with flags of the same name can follow each
other. One process pays TensorFlow's start-up once for all of them.
"""

import contextlib
import io
import json
import os
import runpy
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(main, program, argv):
    from absl import flags

    from keras_resnets import cli

    flags.FLAGS.unparse_flags()
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            cli.run(main, argv=[program, *argv])
            status = 0
        except SystemExit as exit_:
            status = exit_.code
        except BaseException:  # a programming error: its traceback is what the test reports
            import traceback

            traceback.print_exc()
            status = "raised"
    return status, output.getvalue()


def run_cases(cases):
    from absl import app, flags  # noqa: F401  (absl.app defines its own flags on import: before any program's)

    results = []
    for program, command_lines in cases.items():
        before = set(flags.FLAGS)
        module = runpy.run_path(os.path.join(ROOT, program), run_name="cli_under_test")
        defined = set(flags.FLAGS) - before
        for argv in command_lines:
            results.append([program, argv, *_run(module["main"], program, argv)])
        for name in defined:
            delattr(flags.FLAGS, name)
    return results


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    with open(sys.argv[1]) as file:
        results = run_cases(json.load(file))
    with open(sys.argv[2], "w") as file:
        json.dump(results, file)
