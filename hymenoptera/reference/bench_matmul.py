#!/usr/bin/python3
"""PyTorch side of `hymenoptera bench --mode matmul`: times torch.mm at the matrix shapes the Go side times.

Usage: bench_matmul.py --shape M,K,C [--shape ...] --iters K --warmup W [--threads T]

For each shape, a fixed random [M, K] × [K, C] float32 product on the CPU: W untimed products, then K timed ones.
Prints one JSON object as its last line of standard output: {"torch", "threads", "seconds": [one total per
shape, in order]}.
"""

import argparse
import json
import time

import torch


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", action="append", required=True, help="M,K,C")
    parser.add_argument("--iters", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    seconds = []
    for shape in args.shape:
        m, k, c = (int(v) for v in shape.split(","))
        lhs, rhs = torch.randn(m, k), torch.randn(k, c)
        for _ in range(args.warmup):
            torch.mm(lhs, rhs)
        start = time.perf_counter()
        for _ in range(args.iters):
            torch.mm(lhs, rhs)
        seconds.append(time.perf_counter() - start)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "seconds": seconds}))


if __name__ == "__main__":
    main()
