#!/usr/bin/python3
"""PyTorch side of `hymenoptera bench --mode eval|train`: times torchvision's ResNet-18 doing what the Go side
does, on the CPU or a CUDA GPU, so that one run prints both figures and their ratio.

Usage: bench_model.py --mode eval|train --batch N --iters K --warmup W [--size S] [--classes C] [--threads T]
                      [--device cpu|cuda]
(with Debian's /usr/bin/python3, which has torch; the Go side also sets OMP_NUM_THREADS=T in this process's
environment, so that OpenMP's pool has the same size as torch's intra-op pool).

  eval   model.eval(), forward under torch.no_grad()
  train  model.train(), forward, cross-entropy, backward, SGD(lr=0.001, momentum=0.9) step on every parameter

On cuda, each iteration ends with torch.cuda.synchronize(), so that it is timed to its end (as the Go side reads
its result back), and torch's defaults stand: cuDNN may use TF32 in convolutions.

Inputs are a fixed random batch of S×S images (NCHW, torch's layout) and random labels. W untimed iterations run
first, then K timed ones. Prints progress on standard error and one JSON object as its last line of standard
output: {"mode", "batch", "iters", "warmup", "size", "threads", "device", "torch", "seconds", "img_s"}, seconds
being the total of the K timed iterations.
"""

import argparse
import json
import sys
import time

import torch
import torchvision

from rss import peak_rss_kib



def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["eval", "train"], required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--iters", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()
    if args.batch < 1 or args.iters < 1 or args.warmup < 0:
        parser.error("--batch and --iters must be positive, --warmup non-negative")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device cuda: torch {torch.__version__} sees no CUDA GPU")
    return args


def make_step(args):
    """Returns a function running one iteration of the benchmarked work."""
    device = torch.device(args.device)
    model = torchvision.models.resnet18(weights=None, num_classes=args.classes).to(device)
    images = torch.randn(args.batch, 3, args.size, args.size).to(device)
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    if args.mode == "eval":
        model.eval()

        def step():
            with torch.no_grad():
                model(images)
            sync()

        return step
    model.train()
    labels = torch.randint(0, args.classes, (args.batch,)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        sync()

    return step


def main():
    args = parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    step = make_step(args)
    for i in range(args.warmup):
        start = time.perf_counter()
        step()
        print(f"PyTorch {args.mode}: warm-up {i + 1}/{args.warmup}: {time.perf_counter() - start:.3f} s",
              file=sys.stderr)
    seconds = 0.0
    for i in range(args.iters):
        start = time.perf_counter()
        step()
        took = time.perf_counter() - start
        seconds += took
        print(f"PyTorch {args.mode}: iteration {i + 1}/{args.iters}: {took:.3f} s", file=sys.stderr)
    print(json.dumps({
        "mode": args.mode,
        "batch": args.batch,
        "iters": args.iters,
        "warmup": args.warmup,
        "size": args.size,
        "threads": torch.get_num_threads(),
        "device": args.device,
        "torch": torch.__version__,
        "seconds": seconds,
        "img_s": args.batch * args.iters / seconds,
        # Peak resident memory of this process (Linux: KiB), for bench --mem.
        "peak_rss_kib": peak_rss_kib(),
    }))


if __name__ == "__main__":
    main()
