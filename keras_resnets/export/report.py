"""Writing results as JSON and Markdown tables (shared by the convert and benchmark programs)."""

import json
import os


def prepare_output_dir(path, name="output_dir"):
    """Creates the results directory `path` now, so that a file in its place or a place that cannot be written
    fails before any work rather than after it."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:  # FileExistsError for a file in its place, NotADirectoryError, PermissionError, ...
        raise ValueError(f"{name} {path!r} cannot be used as a directory: {error.strerror or error}.") from None
    if not os.access(path, os.W_OK):
        raise ValueError(f"{name} {path!r} is not writable.")
    return path


def write_json(data, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as file:
        json.dump(data, file, indent=2, sort_keys=False, default=str)
    return path


def _cell(value, digits):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(rows, columns):
    """`columns`: list of (key, header, digits); a missing or None value prints as n/a."""
    lines = ["| " + " | ".join(header for _, header, _ in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(key), digits) for key, _, digits in columns) + " |")
    return "\n".join(lines)


def write_text(text, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as file:
        file.write(text if text.endswith("\n") else text + "\n")
    return path
