#!/usr/bin/python3
"""PyTorch reference for hymenoptera/hub: the hash prefix torch.hub reads from each file name on the command line.

Usage: hub_reference.py NAME...   (with Debian's /usr/bin/python3, which has torch)

Prints one JSON object mapping each name to the prefix that torch.hub.load_state_dict_from_url would check
(torch.hub.HASH_REGEX), or "" where it would check none.
"""

import json
import sys

import torch.hub


def hash_prefix(name):
    match = torch.hub.HASH_REGEX.search(name)
    return match.group(1) if match else ""


if __name__ == "__main__":
    print(json.dumps({name: hash_prefix(name) for name in sys.argv[1:]}))
