"""Full-size timm models with random (BN-randomized) weights, saved as safetensors; needs torch and timm.

torch and TensorFlow do not share a process safely, so the timm side runs as this script in a child process.
"""

import pathlib
import subprocess
import sys

import numpy as np


def _write_reference(name, folder, size, seed):
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False).eval()
    generator = torch.Generator().manual_seed(seed)
    batch_norms = [module for module in model.modules() if isinstance(module, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        # Random gamma/beta, and moving statistics measured on random images (as training would leave them),
        # so that activations stay O(1) through 150 layers and the logits compare at float32 precision.
        for module in batch_norms:
            module.weight.uniform_(0.5, 1.5)
            module.bias.normal_(0.0, 0.1)
            module.reset_running_stats()
            module.momentum = None  # cumulative average
        model.train()
        model(torch.randn(8, 3, size, size, generator=generator))
        model.eval()
        inputs = torch.randn(2, 3, size, size, generator=generator)
        logits = model(inputs).numpy()
    save_file({key: value.contiguous() for key, value in model.state_dict().items()}, str(folder / f"{name}.safetensors"))
    np.savez(folder / f"{name}.npz", inputs=np.transpose(inputs.numpy(), (0, 2, 3, 1)), logits=logits)


def timm_reference(name, folder, size=224, seed=0):
    """(safetensors path, NHWC inputs, timm logits) for timm.create_model(name) with random weights."""
    command = [sys.executable, __file__, name, str(folder), str(size), str(seed)]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    arrays = np.load(pathlib.Path(folder) / f"{name}.npz")
    return pathlib.Path(folder) / f"{name}.safetensors", arrays["inputs"], arrays["logits"]


if __name__ == "__main__":
    _write_reference(sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
