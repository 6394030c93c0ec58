"""Human-readable descriptions of registered models: one model in full, or the registry as a table."""

import io

from keras_resnets.analysis import count_macs, count_params
from keras_resnets.models.registry import create_model, list_models, model_info


def describe_model(name):
    info = model_info(name)
    model = create_model(name)
    lines = io.StringIO()
    model.summary(print_fn=lambda line, *args, **kwargs: lines.write(line + "\n"))
    params = count_params(model)
    reference = f" (reference {info.reference_params:,})" if info.reference_params else ""
    return (
        f"{lines.getvalue()}\n"
        f"{name}: {params:,} parameters{reference}, {count_macs(model) / 1e9:.2f} GMACs at "
        f"{info.input_size}x{info.input_size}\npaper: {info.paper}"
    )


def registry_table(pattern="*"):
    rows = ["| model | family | dataset | parameters | GMACs |", "|---|---|---|---:|---:|"]
    for name in list_models(pattern):
        info = model_info(name)
        model = create_model(name)
        rows.append(
            f"| {name} | {info.family} | {info.dataset} | {count_params(model):,} | {count_macs(model) / 1e9:.2f} |"
        )
    return "\n".join(rows)
