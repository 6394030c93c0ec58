"""Adds MediaPipe ImageClassifier metadata (labels, normalization, descriptions) to an image-classifier `.tflite`.

Run in the MediaPipe environment (tflite/mediapipe/requirements.txt), not the TensorFlow one:

    python tflite/mediapipe/add_metadata.py model.tflite --labels=labels.txt --output=model_mp.tflite \
        --name="ResNet-20 CIFAR-10" [--mean=0 --std=1]   # --mean/--std: float32 input only

A uint8 input takes raw pixels (no --mean/--std); a float32 input needs --mean and --std, one value each for all
channels (MediaPipe feeds (pixel - mean) / std with pixels 0..255).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def check_paths(parser, args):
    """Exits with status 2 (argparse's usage error) for a missing input or an output that cannot be written, before
    mediapipe is imported: these checks run in any environment."""
    for name, path in (("model", args.model), ("--labels", args.labels)):
        if not os.path.isfile(path):
            parser.error(f"{name} {path!r} is not a file.")
    for name, path in (("--output", args.output), ("--json", args.json)):
        if path is not None and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            parser.error(f"{name} {path!r}: its directory does not exist.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="input .tflite (one [1,H,W,3] uint8/float32 input, one [1,N] output)")
    parser.add_argument("--labels", required=True, help="label file, one class name per line (N lines)")
    parser.add_argument("--output", required=True, help="output .tflite with metadata (may equal the input)")
    parser.add_argument("--mean", type=float, help="float32 input only: one mean for all channels, 0..255 units")
    parser.add_argument("--std", type=float, help="float32 input only: one std for all channels, 0..255 units")
    parser.add_argument("--name", required=True, help="model name in the metadata")
    parser.add_argument("--description", help="model description")
    parser.add_argument("--version", help="model version")
    parser.add_argument("--author", help="model author")
    parser.add_argument("--json", help="also write the metadata, as JSON, to this file")
    args = parser.parse_args(argv)
    check_paths(parser, args)
    from metadata import MetadataError, write_metadata

    try:
        metadata_json = write_metadata(args.model, args.labels, args.output, mean=args.mean, std=args.std,
                                       name=args.name, description=args.description, version=args.version,
                                       author=args.author)
    except MetadataError as error:
        parser.exit(2, f"{parser.prog}: error: {args.model}: {error}\n")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(metadata_json)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
