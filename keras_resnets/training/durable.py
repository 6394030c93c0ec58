"""Writes that survive a kill (or a power cut) at any instant: a file is either the old one or the new one."""

import hashlib
import json
import os


def sync(path):
    """Flushes `path` (a file or a directory) from the page cache to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(path, text):
    """Replaces `path` with `text`: written to a temporary file next to it, synced, then renamed over it."""
    directory, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(directory, f".{name}.partial")
    with open(temporary, "w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    sync(directory)


def write_json_atomically(path, value):
    write_atomically(path, json.dumps(value, indent=2))


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
