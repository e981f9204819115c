#!/usr/bin/python3
"""Golden fixtures for hymenoptera/explain: Grad-CAM on layer4 (forward and backward hooks), the validation set's
predictions, confusion counts and pooled features, and numpy's PCA of those features.

The model is the backbone of the fixture resnet18_2class.pth (random weights with non-trivial BatchNorm, made by
model_fixtures.py, which this script runs first if the checkpoint is missing) with a head made here: random weights
give every validation image the same class, which would leave half of a confusion matrix untested, so fc reads the
features' first principal direction and splits the images at a wide gap between their projections, away from
ties, into two groups of both classes. The model runs in evaluation mode; the images are the dataset's validation
split, extracted from the zip unchanged, through the tutorial's validation transform on torchvision's PIL loader.

Writes to <fixtures>/explain/:
  val/<class>/<name>.jpg   the validation split, for the Go test's ImageFolder
  explain_2class.pth       the model's state_dict
  expected.json            {"checkpoint": file name, "checkpoint_sha256": hex, "files": val/ paths in ImageFolder
                            order, "cam_files": the Grad-CAM images, "confusion": [[count]] true × predicted,
                            "min_margin": smallest |logit0 - logit1| over the set (how far from a tie)}
  explain.npz              "cam_logits" [6, 2]; "cam7_pred", "cam7_other" [6, 7, 7]: Grad-CAM of the predicted and
                           of the other class; "cam224_pred" [6, 224, 224]: cam7_pred upsampled by
                           F.interpolate(mode="bilinear", align_corners=False); "logits" [153, 2], "labels" [153],
                           "features" [153, 512]: avgpool's output; "pca" [153, 2]: the features, centred, on their
                           first two principal directions (numpy SVD in float64); "pca_ratio" [2]: explained
                           variance ratios
"""
import hashlib
import io
import json
import os
import sys
import zipfile

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torchvision.datasets.folder import pil_loader

import model_fixtures
from data_fixtures import dataset_zip
from fixtures_common import atomic_save, fixtures_dir, setup_torch
from predict_fixtures import val_transform

BACKBONE = "resnet18_2class.pth"
CHECKPOINT = "explain_2class.pth"
CAM_IMAGES_PER_CLASS = 3


def extract_val(zip_path, out):
    """Extracts every validation JPEG into out/val/<class>/, unchanged."""
    prefix = "hymenoptera_data/val/"
    with zipfile.ZipFile(zip_path) as archive:
        for entry in archive.namelist():
            if not entry.startswith(prefix) or not entry.lower().endswith(".jpg"):
                continue
            path = out / "val" / entry[len(prefix):]
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(archive.read(entry))
            os.replace(tmp, path)


class LayerFourHooks:
    """Grad-CAM's hooks: layer4's output on the forward pass, and its gradient on the backward pass."""

    def __init__(self, model):
        self.activations = None
        self.gradients = None
        model.layer4.register_forward_hook(self.forward_hook)
        model.layer4.register_full_backward_hook(self.backward_hook)

    def forward_hook(self, module, inputs, output):
        self.activations = output.detach()

    def backward_hook(self, module, grad_input, grad_output):
        self.gradients = grad_output[0].detach()


def grad_cam(model, hooks, batch, classes):
    """Selvaraju et al.'s Grad-CAM: ReLU(sum_k alpha_k A_k), alpha_k the spatial mean of d score / d A_k. Returns
    the logits and the maps [N, 7, 7]."""
    model.zero_grad()
    inputs = batch.clone().requires_grad_(True)  # the full backward hook needs an input that requires grad
    logits = model(inputs)
    logits.gather(1, classes[:, None]).sum().backward()
    weights = hooks.gradients.mean(dim=(2, 3), keepdim=True)
    return logits.detach(), F.relu((weights * hooks.activations).sum(dim=1))


def evaluate(model, dataset):
    """The model on the whole split: logits, labels and avgpool's output (fc's input)."""
    pooled = []
    hook = model.avgpool.register_forward_hook(lambda module, inputs, output: pooled.append(torch.flatten(output, 1)))
    loader = torch.utils.data.DataLoader(dataset, batch_size=16, shuffle=False)
    logits, labels = [], []
    with torch.no_grad():
        for images, targets in loader:
            logits.append(model(images))
            labels.append(targets)
    hook.remove()
    return torch.cat(logits), torch.cat(labels), torch.cat(pooled)


def pca(features):
    """numpy's PCA in float64: the centred features on their first two principal directions, the explained
    variance ratios, the directions and the mean."""
    data = features.double().numpy()
    mean = data.mean(axis=0)
    centred = data - mean
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, singular[:2] ** 2 / (singular ** 2).sum(), vt[:2], mean


def split_head(model, features, labels):
    """Sets fc to logit0 = -logit1 = a·(v·(f - mean) - t): v the first principal direction, t the middle of the
    widest gap between sorted projections within their middle half, a = 1/std of the projections; the sign
    chosen so that most images are classified right."""
    projections, _, directions, mean = pca(features)
    p = np.sort(projections[:, 0])
    n = len(p)
    lo, hi = n // 4, 3 * n // 4
    k = lo + int(np.argmax(p[lo + 1:hi] - p[lo:hi - 1]))
    threshold = (p[k] + p[k + 1]) / 2
    a = 1 / projections[:, 0].std()
    # With a > 0 the images above the threshold are predicted ants (class 0).
    ants_above = ((projections[:, 0] > threshold) == (labels.numpy() == 0)).mean()
    if ants_above < 0.5:
        a = -a
    v = directions[0]
    weight = np.stack([a * v, -a * v])
    bias = np.array([-a * (v @ mean + threshold), a * (v @ mean + threshold)])
    with torch.no_grad():
        model.fc.weight.copy_(torch.from_numpy(weight).float())
        model.fc.bias.copy_(torch.from_numpy(bias).float())


def main():
    zip_path = dataset_zip()
    if not zip_path.exists():
        print(f"explain_fixtures.py: {zip_path} is missing (set HYMENOPTERA_TEST_ZIP): no explain fixtures",
              file=sys.stderr)
        return
    backbone = fixtures_dir("model") / BACKBONE
    if not backbone.exists():
        model_fixtures.main()
    setup_torch()
    out = fixtures_dir("explain")
    extract_val(zip_path, out)

    model = torchvision.models.resnet18(weights=None, num_classes=2)
    model.load_state_dict(torch.load(backbone))
    model.eval()
    transform = val_transform()
    dataset = torchvision.datasets.ImageFolder(str(out / "val"), transform=transform, loader=pil_loader)
    files = [os.path.relpath(path, out) for path, _ in dataset.samples]

    _, labels, features = evaluate(model, dataset)
    split_head(model, features, labels)
    checkpoint = out / CHECKPOINT
    atomic_save(model.state_dict(), checkpoint)
    logits, labels, features = evaluate(model, dataset)
    predicted = logits.argmax(dim=1)
    confusion = torch.bincount(labels * 2 + predicted, minlength=4).reshape(2, 2)

    projections, ratio, _, _ = pca(features)

    # Grad-CAM on the first images of each class.
    cam_indices = []
    for cls in range(len(dataset.classes)):
        cam_indices += [i for i, (_, label) in enumerate(dataset.samples) if label == cls][:CAM_IMAGES_PER_CLASS]
    hooks = LayerFourHooks(model)
    batch = torch.stack([dataset[i][0] for i in cam_indices])
    cam_logits, cam7_pred = grad_cam(model, hooks, batch, predicted[cam_indices])
    _, cam7_other = grad_cam(model, hooks, batch, 1 - predicted[cam_indices])
    cam224_pred = F.interpolate(cam7_pred[:, None], size=(224, 224), mode="bilinear", align_corners=False)[:, 0]

    arrays = {
        "cam_logits": cam_logits.numpy(),
        "cam7_pred": cam7_pred.numpy(),
        "cam7_other": cam7_other.numpy(),
        "cam224_pred": cam224_pred.numpy(),
        "logits": logits.numpy(),
        "labels": labels.numpy().astype(np.int64),
        "features": features.numpy(),
        "pca": projections,
        "pca_ratio": ratio,
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    tmp = out / "explain.npz.tmp"
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, out / "explain.npz")
    expected = {
        "checkpoint": CHECKPOINT,
        "checkpoint_sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest(),
        "files": files,
        "cam_files": [files[i] for i in cam_indices],
        "confusion": confusion.tolist(),
        "min_margin": float((logits[:, 0] - logits[:, 1]).abs().min()),
    }
    tmp = out / "expected.json.tmp"
    tmp.write_text(json.dumps(expected, indent=1))
    os.replace(tmp, out / "expected.json")
    print(f"explain fixtures written to {out}")


if __name__ == "__main__":
    main()
