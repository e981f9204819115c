"""PyTorch side of `hymenoptera bench --mode epoch`: the tutorial's train_model epochs, timed per phase, on the
extracted dataset, with torchvision's resnet18 (random weights: timing does not depend on them) and a 2-class
head, in one of the tutorial's two scenarios.

Usage: bench_epoch.py --scenario finetune|fixed --data DIR --epochs E --batch N --threads T --workers W
Prints one JSON object on its last line: {"torch": VERSION, "epochs": [{"train_s": S, "val_s": S}, ...]}.
"""
import argparse
import json
import os
import time

import torch
import torchvision
from torchvision import datasets, transforms

from rss import peak_rss_kib, workers_peak_rss_kib

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]



def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=["finetune", "fixed"], required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    pipelines = {
        "train": transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
                                     transforms.ToTensor(), transforms.Normalize(MEAN, STD)]),
        "val": transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                   transforms.Normalize(MEAN, STD)]),
    }
    loaders = {phase: torch.utils.data.DataLoader(datasets.ImageFolder(os.path.join(args.data, phase), pipelines[phase]),
                                                  batch_size=args.batch, shuffle=(phase == "train"),
                                                  num_workers=args.workers)
               for phase in ("train", "val")}
    model = torchvision.models.resnet18(weights=None)
    if args.scenario == "fixed":
        for param in model.parameters():
            param.requires_grad = False
    model.fc = torch.nn.Linear(model.fc.in_features, 2)
    params = model.fc.parameters() if args.scenario == "fixed" else model.parameters()
    optimizer = torch.optim.SGD(params, lr=0.001, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1)
    criterion = torch.nn.CrossEntropyLoss()

    epochs = []
    for _ in range(args.epochs):
        times = {}
        for phase in ("train", "val"):
            start = time.perf_counter()
            model.train() if phase == "train" else model.eval()
            for inputs, labels in loaders[phase]:
                optimizer.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    loss = criterion(model(inputs), labels)
                    if phase == "train":
                        loss.backward()
                        optimizer.step()
            if phase == "train":
                scheduler.step()
            times[phase + "_s"] = time.perf_counter() - start
        epochs.append(times)
        print(f"PyTorch {args.scenario}: train {times['train_s']:.1f} s, val {times['val_s']:.1f} s", flush=True,
              file=__import__("sys").stderr)
    # Peak resident memory (Linux: KiB), for bench --mem: this process's, and its largest DataLoader worker's
    # (RUSAGE_CHILDREN holds the largest of the children that have ended; the loaders' workers end with each epoch).
    print(json.dumps({"torch": torch.__version__, "epochs": epochs,
                      "peak_rss_kib": peak_rss_kib(),
                      "workers_peak_rss_kib": workers_peak_rss_kib()}))


if __name__ == "__main__":
    main()
