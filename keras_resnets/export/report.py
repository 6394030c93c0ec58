"""Writing results as JSON and Markdown tables (shared by the convert and benchmark programs)."""

import json
import os


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
