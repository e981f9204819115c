"""Shared helpers of the reference scripts: where fixtures go, and how torch is set up for reproducible runs.

Every fixture script runs with Debian's python3-torch and python3-torchvision as /usr/bin/python3, and writes
under HYMENOPTERA_FIXTURES (default: .fixtures/ at the repository root), one sub-directory per area.
"""
import os
import pathlib

import torch

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def fixtures_dir(area):
    """Returns (and creates) the fixture directory of an area, e.g. "model"."""
    base = pathlib.Path(os.environ.get("HYMENOPTERA_FIXTURES", REPO_ROOT / ".fixtures"))
    path = base / area
    path.mkdir(parents=True, exist_ok=True)
    return path


def setup_torch(seed=0):
    """Deterministic, two-thread torch, as the benchmarks and golden tests assume."""
    torch.manual_seed(seed)
    torch.set_num_threads(2)


def atomic_save(obj, path, **kwargs):
    """torch.save into a temporary file, then rename, so an interrupted run never leaves a half-written fixture."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp, **kwargs)
    os.replace(tmp, path)
