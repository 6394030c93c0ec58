"""absl flags for apps/study.py, defined from the studies' Options dataclasses so the two never drift apart.

A setting shared by several studies (`seed`, `repetitions`, ...) is one flag; every flag defaults to None, which
means "the study's own default", so each study keeps its defaults. A field declares its help text as
`dataclasses.field(default=..., metadata={"help": "..."})`.
"""

import dataclasses

from absl import flags

from keras_resnets import cli
from keras_resnets.studies import STUDIES, StudyError, study_module


def _fields():
    """name -> (field, [(study, default), ...]) over every study's Options."""
    fields = {}
    for study in sorted(STUDIES):
        options_type = study_module(study).Options
        for field in dataclasses.fields(options_type):
            default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
            fields.setdefault(field.name, (field, []))[1].append((study, default))
    return fields


def define_flags(flag_values=flags.FLAGS):
    # A string, not an enum: an unknown name is a StudyError (one line, exit 2), not absl's parse failure.
    flags.DEFINE_string("study", None, f"The study to run: {', '.join(sorted(STUDIES))}.", flag_values=flag_values)
    flags.DEFINE_string("output_dir", None, "Where results.json and the figures go (created).", flag_values=flag_values)
    for name, (field, defaults) in _fields().items():
        shown = "; ".join(f"{study}: {_show(default)}" for study, default in defaults)
        text = f"{field.metadata.get('help', name)} (default {shown})"
        cli.define_typed_flag(name, cli.field_types(field.type)[0], None, help=text, flag_values=flag_values,
                              module_name=__name__)


def _show(default):
    return ",".join(str(value) for value in default) if isinstance(default, tuple) else str(default)


def settings_from_flags(study, flag_values=flags.FLAGS):
    """The settings of `study` that were given on the command line; a flag of another study is an error."""
    options_type = study_module(study).Options
    own = {field.name: field for field in dataclasses.fields(options_type)}
    settings = {}
    for name, (field, _) in _fields().items():
        value = flag_values[name].value
        if value is None:
            continue
        if name not in own:
            users = ", ".join(sorted(s for s in STUDIES if name in study_module(s).Options.__dataclass_fields__))
            raise StudyError(f"--{name} is a setting of {users}, not of {study}.")
        kind, element = cli.field_types(own[name].type)
        if kind is tuple:
            try:
                value = tuple(element(item) for item in value)
            except ValueError:
                raise StudyError(f"--{name} must be a list of {element.__name__} values, got {','.join(value)!r}.") from None
        settings[name] = value
    return settings
