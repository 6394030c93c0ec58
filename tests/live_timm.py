"""Full-size timm models with random (BN-randomized) weights, saved as safetensors; needs torch and timm."""

import numpy as np


def timm_reference(name, folder, size=224, seed=0):
    """(safetensors path, NHWC inputs, timm logits) for timm.create_model(name) with random weights."""
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
        inputs = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))
        logits = model(inputs).numpy()
    path = folder / f"{name}.safetensors"
    save_file({key: value.contiguous() for key, value in model.state_dict().items()}, str(path))
    return path, np.transpose(inputs.numpy(), (0, 2, 3, 1)), logits
