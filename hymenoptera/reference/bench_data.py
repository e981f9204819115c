#!/usr/bin/python3
"""torchvision's side of the CLI's bench --mode data (cmd/hymenoptera/bench_data.go): the tutorial's training
and validation pipelines run by torch's DataLoader over the hymenoptera dataset, timed per epoch.

Usage (Debian's /usr/bin/python3): bench_data.py --data DIR [--epochs N] [--batch B] [--workers W] [--threads T]

DIR holds train/ and val/. Training: ImageFolder(train) with RandomResizedCrop(224), RandomHorizontalFlip,
ToTensor, Normalize, DataLoader(batch_size=B, shuffle=True, num_workers=W); validation: Resize(256),
CenterCrop(224), ToTensor, Normalize, DataLoader(batch_size=B, shuffle=False, num_workers=W). Each epoch is timed
from the loader's iterator creation (which starts the worker processes, as in the tutorial's loop) to its last
batch. Progress goes to stderr; the last line of stdout is the JSON report:
{"torch": ..., "torchvision": ..., "threads": T, "workers": W, "batch": B,
 "train": [{"epoch": 0, "seconds": s, "images": n, "images_per_s": r}, ...], "val": [...]}
"""
import argparse
import json
import os
import sys
import time

import torch
import torchvision
from torchvision import datasets, transforms

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def pipelines():
    return {
        "train": (transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
                                      transforms.ToTensor(), transforms.Normalize(MEAN, STD)]), True),
        "val": (transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                    transforms.Normalize(MEAN, STD)]), False),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    report = {"torch": torch.__version__, "torchvision": torchvision.__version__, "threads": args.threads,
              "workers": args.workers, "batch": args.batch}
    for phase, (tf, shuffle) in pipelines().items():
        ds = datasets.ImageFolder(os.path.join(args.data, phase), tf)
        loader = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=shuffle, num_workers=args.workers)
        epochs = []
        for epoch in range(args.epochs):
            start = time.perf_counter()
            images = 0
            for inputs, _ in loader:
                images += inputs.shape[0]
            seconds = time.perf_counter() - start
            epochs.append({"epoch": epoch, "seconds": seconds, "images": images, "images_per_s": images / seconds})
            print(f"torchvision {phase} epoch {epoch}: {seconds:.3f} s, {images / seconds:.0f} images/s",
                  file=sys.stderr)
        report[phase] = epochs
    print(json.dumps(report))


if __name__ == "__main__":
    main()
