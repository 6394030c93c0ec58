"""Imports TensorFlow with TF_CPP_MIN_LOG_LEVEL applied to the notices it prints while it loads.

TensorFlow 2.21 loads two native libraries that each carry their own copy of absl logging and of XLA's CUDA stub:
the one behind `_pywrap_cpu_feature_guard` and `_pywrap_profiler_plugin.so`. The stub logs "Could not find cuda
drivers" from a static initializer, before TensorFlow reads TF_CPP_MIN_LOG_LEVEL, and each copy of absl adds
"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR": two notices, twice,
whatever the variable says. Here the import runs with the standard error stream (file descriptor 2) sent to a
temporary file; the lines below the level the variable asks for are dropped and every other line is passed on.
Importing this module does it; the package imports it before anything else.
"""

import os
import re
import sys
import tempfile

ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ABSL_LINE = re.compile(r"^([IWEF])\d{4} [\d:.]+ +\d+ \S+:\d+\] ")
SEVERITIES = "IWEF"  # TF_CPP_MIN_LOG_LEVEL 0, 1, 2, 3


def _min_log_level():
    value = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
    return int(value) if value.isdigit() else 0


def _kept(line, level):
    if line.rstrip("\n") == ABSL_BANNER:
        return False
    match = ABSL_LINE.match(line)
    return match is None or SEVERITIES.index(match.group(1)) >= level


def import_tensorflow():
    """Imports TensorFlow (once per process), holding back the load-time notices that TF_CPP_MIN_LOG_LEVEL hides."""
    level = _min_log_level()
    if "tensorflow" in sys.modules or level == 0:
        import tensorflow  # noqa: F401
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile("w+b") as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if _kept(line, level)))


import_tensorflow()
