"""Every public name and every file of the package that the README names exists: `from keras_resnets... import`
lines, dotted `keras_resnets.<...>` names and `keras_resnets/...`, `apps/...`, `tflite/...`, `tests/...` paths."""

import importlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def resolve(dotted):
    """The object `dotted` names: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:end]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[end:]:
            value = getattr(value, attribute)
        return value
    raise ModuleNotFoundError(dotted)


def test_every_imported_and_dotted_name_resolves():
    names = set()
    for module, imported in re.findall(r"from (keras_resnets[\w.]*) import ([\w, ]+)", README):
        names.update(f"{module}.{name.strip()}" for name in imported.split(",") if name.strip())
    names.update(name.rstrip(".") for name in re.findall(r"\bkeras_resnets(?:\.\w+)+", README))
    assert len(names) > 10
    missing = []
    for name in sorted(names):
        try:
            resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert not missing, f"the README names what does not exist: {missing}"


def test_every_path_the_readme_names_exists():
    paths = set(re.findall(r"`((?:keras_resnets|apps|tflite|tests)/[\w./-]*)`", README))
    assert len(paths) > 10
    missing = sorted(path for path in paths if not (ROOT / path.split(" ")[0]).exists())
    assert not missing, f"the README names files that do not exist: {missing}"
