"""Golden fixtures for hymenoptera/train: SGD with momentum and StepLR across a learning-rate boundary, in both of
the tutorial's scenarios, from identical weights and an identical fixed sequence of batches (no augmentation, no
shuffling). Random weights: pretrained ImageNet weights are not downloadable on the project's machines.

Writes to <fixtures>/train/:
  start.pth              resnet18 with non-trivial BatchNorm and a fresh 2-class head: the starting point
  batches.npz            "images" [steps, 4, 64, 64, 3] NHWC float32, "labels" [steps, 4] int32
  <scenario>.npz         "loss" per step, "lr" per step (float64 results, stored as float32)
  <scenario>_final.pth   the state_dict after the last step (float64 run, stored as float32)
for scenario in finetune, fixed.

`train_fixtures.py logits CHECKPOINT IMAGES.npz` prints, as JSON, the eval-mode logits of a 2-class resnet18
checkpoint on the "images" array: the tests use it to load a Go-written checkpoint in PyTorch.
"""
import json
import sys

import numpy as np
import torch
import torchvision

from fixtures_common import atomic_save, fixtures_dir, setup_torch
from model_fixtures import randomize_batchnorm

STEPS = 9
LR = 0.001  # the tutorial's; at 0.01 fine-tuning this random network is chaotic (float32 and float64 part ways)
MOMENTUM = 0.9
STEP_SIZE = 4  # the learning rate drops to 1e-4 at step 4 and 1e-5 at step 8
GAMMA = 0.1


def two_class_resnet18(state=None):
    model = torchvision.models.resnet18(weights=None)
    model.fc = torch.nn.Linear(model.fc.in_features, 2)
    if state is not None:
        model.load_state_dict(state)
    return model


def run(scenario, start, images, labels, dtype):
    """Trains from start for STEPS steps, one batch per step, the scheduler stepped after every optimiser step.
    Returns (losses, learning rates, final state_dict)."""
    model = two_class_resnet18(start).to(dtype)
    if scenario == "fixed":
        for param in model.parameters():
            param.requires_grad = False
        for param in model.fc.parameters():
            param.requires_grad = True
        params = model.fc.parameters()
    else:
        params = model.parameters()
    optimizer = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=STEP_SIZE, gamma=GAMMA)
    criterion = torch.nn.CrossEntropyLoss()
    model.train()  # the tutorial's semantics: BatchNorm in training mode in both scenarios
    losses, rates = [], []
    for step in range(STEPS):
        x = torch.from_numpy(images[step]).permute(0, 3, 1, 2).to(dtype)
        y = torch.from_numpy(labels[step]).long()
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return np.array(losses), np.array(rates), model.state_dict()


def max_relative_error(a, b):
    worst = 0.0
    for key in b:
        x, y = a[key].double(), b[key].double()
        scale = y.abs().max().item()
        diff = (x - y).abs().max().item()
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst


def write_fixtures():
    setup_torch(0)
    out = fixtures_dir("train")
    generator = torch.Generator().manual_seed(99)
    model = two_class_resnet18()
    randomize_batchnorm(model, generator)
    start = model.state_dict()
    atomic_save(start, out / "start.pth")
    for attempt in range(20):
        images = torch.randn(STEPS, 4, 64, 64, 3, generator=generator).numpy()
        labels = torch.randint(0, 2, (STEPS, 4), generator=generator).numpy().astype(np.int32)
        results = {s: (run(s, start, images, labels, torch.float32), run(s, start, images, labels, torch.float64))
                   for s in ("finetune", "fixed")}
        worst = max(max_relative_error(single[2], double[2]) for single, double in results.values())
        if worst < 1e-5:
            break
        print(f"batches {attempt}: float32 is off float64 by {worst:.2g}; drawing others", flush=True)
    else:
        raise SystemExit("no well-conditioned batches in 20 draws")
    np.savez(out / "batches.npz", images=images, labels=labels)
    for scenario, (_, (losses, rates, state)) in results.items():
        np.savez(out / f"{scenario}.npz", loss=losses.astype(np.float32), lr=rates.astype(np.float32))
        atomic_save({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()},
                    out / f"{scenario}_final.pth")
    print(f"train fixtures written to {out}")


def print_logits(checkpoint, images_path):
    setup_torch(0)
    model = two_class_resnet18(torch.load(checkpoint)).eval()
    images = torch.from_numpy(np.load(images_path)["images"]).permute(0, 3, 1, 2)
    with torch.no_grad():
        print(json.dumps(model(images).tolist()))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "logits":
        print_logits(sys.argv[2], sys.argv[3])
    else:
        write_fixtures()
