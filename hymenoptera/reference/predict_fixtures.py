#!/usr/bin/python3
"""Golden fixtures for `hymenoptera predict` (hymenoptera/cmd/hymenoptera): a few of the dataset's validation
images and the logits that torchvision computes for them, with the tutorial's validation transform (Resize(256),
CenterCrop(224), ToTensor, Normalize with ImageNet's statistics) on torchvision's PIL loader, and the model
fixture resnet18_2class.pth (made by model_fixtures.py, which this script runs first if the checkpoint is missing).

Writes to <fixtures>/predict/:
  images/<class>_<name>.jpg   the images, extracted from the dataset zip unchanged
  expected.json               {"checkpoint": file name, "checkpoint_sha256": hex,
                               "images": [{"file": name under images/, "logits": [...]}]}
"""
import hashlib
import json
import os
import sys
import zipfile

import torch
import torchvision
from torchvision import transforms
from torchvision.datasets.folder import pil_loader

import model_fixtures
from data_fixtures import dataset_zip
from fixtures_common import fixtures_dir, setup_torch

CHECKPOINT = "resnet18_2class.pth"
IMAGES_PER_CLASS = 3  # 6 images: two batches at the test's batch size of 4, the second one short


def val_transform():
    """The tutorial's data_transforms["val"]."""
    return transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])


def extract_images(zip_path, out):
    """Extracts the first IMAGES_PER_CLASS validation images of each class (sorted by name) into out; returns the
    file names."""
    names = []
    with zipfile.ZipFile(zip_path) as archive:
        entries = sorted(e for e in archive.namelist() if e.lower().endswith(".jpg"))
        for cls in ("ants", "bees"):
            chosen = [e for e in entries if e.startswith(f"hymenoptera_data/val/{cls}/")][:IMAGES_PER_CLASS]
            for entry in chosen:
                name = f"{cls}_{os.path.basename(entry)}"
                tmp = out / (name + ".tmp")
                tmp.write_bytes(archive.read(entry))
                os.replace(tmp, out / name)
                names.append(name)
    return names


def main():
    zip_path = dataset_zip()
    if not zip_path.exists():
        print(f"predict_fixtures.py: {zip_path} is missing (set HYMENOPTERA_TEST_ZIP): no predict fixtures",
              file=sys.stderr)
        return
    checkpoint = fixtures_dir("model") / CHECKPOINT
    if not checkpoint.exists():
        model_fixtures.main()
    setup_torch()
    out = fixtures_dir("predict")
    images_dir = out / "images"
    images_dir.mkdir(exist_ok=True)
    names = extract_images(zip_path, images_dir)

    model = torchvision.models.resnet18(weights=None, num_classes=2)
    model.load_state_dict(torch.load(checkpoint))
    model.eval()
    transform = val_transform()
    batch = torch.stack([transform(pil_loader(str(images_dir / name))) for name in names])
    with torch.no_grad():
        logits = model(batch)

    expected = {
        "checkpoint": CHECKPOINT,
        "checkpoint_sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest(),
        "images": [{"file": name, "logits": row.tolist()} for name, row in zip(names, logits)],
    }
    tmp = out / "expected.json.tmp"
    tmp.write_text(json.dumps(expected, indent=1))
    os.replace(tmp, out / "expected.json")
    print(f"predict fixtures written to {out}")


if __name__ == "__main__":
    main()
