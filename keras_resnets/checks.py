"""Argument checks shared by the whole package: each raises one ValueError that names the argument, the value and
what is allowed (a string such as "0.1" is refused here rather than failing later in a comparison)."""


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}.")
    return value


def check_positive_int(name, value, allow_none=False):
    """`value` if it is an int >= 1 (or None, with allow_none)."""
    if value is None and allow_none:
        return value
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return value


def check_non_negative_int(name, value):
    if not is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value!r}.")
    return value


def positive_ints(name, values):
    """`values` (ints, or strings of them as a command line gives them) as a tuple of ints >= 1."""
    counts = tuple(int(value) if isinstance(value, str) and value.strip().isdigit() else value for value in values)
    if not counts:
        raise ValueError(f"{name} must list at least one positive integer.")
    for count in counts:
        check_positive_int(name, count)
    return counts


def check_range(name, value, interval):
    """`value` if it is a number in `interval`, written as in mathematics: "[0, 1)", "(0, 1]", "(0, inf)"."""
    low, high = (float(bound) for bound in interval[1:-1].split(","))
    inside = is_number(value) and (value >= low if interval[0] == "[" else value > low) and (
        value <= high if interval[-1] == "]" else value < high)
    if not inside:
        if high == float("inf"):
            allowed = f"a number {'>=' if interval[0] == '[' else '>'} {interval[1:-1].split(',')[0]}"
        else:
            allowed = f"in {interval}"
        raise ValueError(f"{name} must be {allowed}, got {value!r}.")
    return value


def check_rate(name, value):
    """A probability of dropping something, in [0, 1)."""
    return check_range(name, value, "[0, 1)")


def check_fraction(name, value):
    """A fraction strictly between 0 and 1 (a target sparsity)."""
    return check_range(name, value, "(0, 1)")
