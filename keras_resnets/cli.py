"""What the command-line programs share: a user error ends in one line on stderr and exit status 2, and flags
defined from the fields of a settings record (a dataclass), so that the two never drift apart.

A bad flag value, a stray argument or a ValueError from the library (a bad file, a bad combination of flags) is
the user's to fix and gets no traceback; any other exception is a programming error and keeps its own.
"""

import dataclasses
import json
import sys
import typing

from absl import app, flags

USER_ERROR = 2


def fail(message):
    """Prints `error: message` to stderr and returns the exit status of a user error."""
    print(f"error: {message}", file=sys.stderr)
    return USER_ERROR


def _parse_flags(argv):
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        sys.exit(fail(f"{error} (--helpfull lists the flags)"))


def _user_errors_exit_2(main, user_errors):
    def wrapped(argv):
        if len(argv) > 1:
            return fail(f"unexpected arguments {argv[1:]}; every option is a --flag (--helpfull lists them).")
        try:
            return main(argv)
        except user_errors as error:
            return fail(error)

    return wrapped


def run(main, argv=None, user_errors=()):
    """`absl.app.run(main)`, with flag errors, positional arguments, ValueErrors and the exceptions in
    `user_errors` (a program's own, such as a diverged training run) reported as user errors."""
    app.run(_user_errors_exit_2(main, (ValueError, *user_errors)), argv=argv, flags_parser=_parse_flags)


def parse_json_object(name, text):
    """The dict a --`name` flag holds as JSON ('' means {}), or a ValueError saying what it must be."""
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"--{name} must be a JSON object, got {text!r}: {error}") from None
    if not isinstance(value, dict):
        raise ValueError(f"--{name} must be a JSON object, got {text!r}.")
    return value


def field_types(annotation):
    """(base type, element type) of a dataclass field's annotation: int -> (int, None), Optional[X] -> those of X,
    tuple[float, ...] -> (tuple, float), a bare tuple -> (tuple, str)."""
    origin = typing.get_origin(annotation)
    if annotation is tuple or origin is tuple:
        elements = [arg for arg in typing.get_args(annotation) if arg is not Ellipsis]
        return tuple, elements[0] if elements else str
    if annotation is dict or origin is dict:
        return dict, None
    arguments = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return field_types(arguments[0]) if arguments else (annotation, None)


def define_typed_flag(name, kind, default, **common):
    """The absl flag for a value of type `kind`: a tuple is a list flag, a dict a JSON string; `common` holds
    help, flag_values and module_name."""
    if kind is dict:
        flags.DEFINE_string(name, None if default is None else json.dumps(default), **common)
    elif kind is tuple:
        flags.DEFINE_list(name, None if default is None else [str(value) for value in default], **common)
    elif kind is bool:
        flags.DEFINE_bool(name, default, **common)
    elif kind is int:
        flags.DEFINE_integer(name, default, **common)
    elif kind is float:
        flags.DEFINE_float(name, default, **common)
    else:
        flags.DEFINE_string(name, default, **common)


def define_record_flags(record_type, help, module_name, enums=(), flag_values=flags.FLAGS):
    """One flag per field of the dataclass `record_type`, with the field's default: `help[name]` is its text,
    `enums[name]` its allowed values; a dict field is a JSON string flag, a tuple a list flag. The flags belong to
    `module_name` (absl would credit them to this module), so that a program's `adopt_module_key_flags` of that
    module lists them in --help."""
    enums = dict(enums)
    defaults = record_type()
    for field in dataclasses.fields(record_type):
        name, default = field.name, getattr(defaults, field.name)
        common = dict(help=help[name], flag_values=flag_values, module_name=module_name)
        if name in enums:
            flags.DEFINE_enum(name, default, enums[name], **common)
        else:
            define_typed_flag(name, field_types(field.type)[0], default, **common)


def record_from_flags(record_type, flag_values=flags.FLAGS, **values):
    """A `record_type` of the flags of its fields, `values` replacing some (parsed ones, say)."""
    names = [field.name for field in dataclasses.fields(record_type)]
    return record_type(**{name: values[name] if name in values else flag_values[name].value for name in names})
