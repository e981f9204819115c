"""Golden fixtures for hymenoptera/viz: torchvision.utils.make_grid on a small batch, and what the tutorial's
imshow makes of a grid.

Writes <fixtures>/viz/grid.npz:
  batch                  a 5-image batch, NHWC float32 (3×4 images, so that rows and columns cannot be confused),
                         scaled so that un-normalising it goes past both ends of [0, 1]
  grid_default           make_grid(batch) with its defaults (nrow=8, padding=2, pad_value=0), HWC float32
  grid_nrow2_pad1_half   make_grid(batch, nrow=2, padding=1, pad_value=0.5): a last row with an empty cell
  grid_nrow3_pad0        make_grid(batch, nrow=3, padding=0)
  grid_single            make_grid(batch[:1]): a single image comes back without padding
  imshow_default         the tutorial's imshow applied to grid_default: std * x + mean in float64, clipped to
                         [0, 1] (what it hands to plt.imshow), HWC float64

Run with Debian's python3-torch and python3-torchvision as /usr/bin/python3 (go generate does).
"""
import io
import os

import numpy as np
import torch
import torchvision

from fixtures_common import fixtures_dir, setup_torch


def hwc(chw):
    return chw.permute(1, 2, 0).contiguous().numpy()


def tutorial_imshow_values(grid):
    """The tutorial's imshow up to plt.imshow, verbatim in its arithmetic."""
    inp = grid.numpy().transpose((1, 2, 0))
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    inp = std * inp + mean
    return np.clip(inp, 0, 1)


def main():
    setup_torch(0)
    out = fixtures_dir("viz")
    batch = torch.randn(5, 3, 3, 4) * 2
    make_grid = torchvision.utils.make_grid
    grid_default = make_grid(batch)
    arrays = {
        "batch": batch.permute(0, 2, 3, 1).contiguous().numpy(),
        "grid_default": hwc(grid_default),
        "grid_nrow2_pad1_half": hwc(make_grid(batch, nrow=2, padding=1, pad_value=0.5)),
        "grid_nrow3_pad0": hwc(make_grid(batch, nrow=3, padding=0)),
        "grid_single": hwc(make_grid(batch[:1])),
        "imshow_default": tutorial_imshow_values(grid_default),
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path = out / "grid.npz"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)
    print(f"viz fixtures written to {out}")


if __name__ == "__main__":
    main()
