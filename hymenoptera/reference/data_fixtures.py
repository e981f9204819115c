#!/usr/bin/python3
"""PyTorch reference for hymenoptera/datasets, hymenoptera/transforms and hymenoptera/dataloader: writes the golden
fixtures of the data pipeline, as torchvision 0.14 and PIL compute them, to <fixtures>/data/.

Usage (always with Debian's /usr/bin/python3, which has torch, torchvision and PIL): data_fixtures.py

Images are raw 8-bit RGB (.u8, row-major H×W×3) or float32 little-endian tensors (.f32, H×W×3, channels last as
the Go tensors are: torchvision's CHW output permuted). Every .json file describes the binary files beside it.

  val_crops.json/.u8   the tutorial's validation pipeline up to CenterCrop(224) (8-bit, so un-normalised) for every
                       val image of the dataset zip and the train images that are not 4:4:4 JPEGs
  jpeg_hashes.json     the SHA-256 of PIL's decoding of every JPEG of the dataset zip
  photo.png            a dataset photo decoded by PIL and saved losslessly, and what torchvision makes of it:
  png_golden.json      its resizes to several sizes (resize_*.u8), the validation pipeline (val_*.f32) and the
                       training pipeline with the random draws it made recorded (train_*.f32)
  crop_params.json     RandomResizedCrop.get_params on many image shapes, with torch's draws recorded
  sizes.json           Resize's output size and CenterCrop's offsets on many shapes; center_crops.u8: CenterCrop(224)
                       of coordinate-coded images of a few shapes (including padded ones)
  formats/             small images in every format and mode ImageFolder reads (PIL's encoders, and HandMadeJPEG for
  formats.json         what PIL never writes), with PIL's RGB conversion of each
  folder/              a class tree with nested directories, links and odd names; folder.json: torchvision's
                       ImageFolder classes and samples for it, and its error for a tree with an empty class
"""

import hashlib
import io
import json
import os
import pathlib
import shutil
import struct
import sys
import zipfile
import zlib

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.datasets import ImageFolder

from fixtures_common import REPO_ROOT, fixtures_dir, setup_torch

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def atomic_write(path, data):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(path, obj):
    atomic_write(path, json.dumps(obj, indent=1).encode())


def u8(img):
    """Raw bytes of a PIL RGB image."""
    assert img.mode == "RGB", img.mode
    return np.asarray(img, dtype=np.uint8).tobytes()


def f32_hwc(tensor):
    """Raw little-endian float32 bytes of a CHW tensor, permuted to HWC."""
    return tensor.permute(1, 2, 0).contiguous().numpy().astype("<f4").tobytes()


def dataset_zip():
    path = os.environ.get("HYMENOPTERA_TEST_ZIP") or REPO_ROOT.parent / "shared" / "data" / "hymenoptera_data.zip"
    return pathlib.Path(path)


def pil_loader(data):
    """torchvision's pil_loader on bytes."""
    return Image.open(io.BytesIO(data)).convert("RGB")


class Recorder:
    """Records the draws torchvision's random transforms make (torch.Tensor.uniform_, torch.rand, torch.randint),
    so that the Go test can replay them: same draws must give the same crop."""

    def __init__(self):
        self.draws = []

    def __enter__(self):
        self.saved = torch.Tensor.uniform_, torch.rand, torch.randint
        uniform, rand, randint = self.saved
        draws = self.draws

        def rec_uniform(tensor, lo=0.0, hi=1.0, **kwargs):
            out = uniform(tensor, lo, hi, **kwargs)
            draws.append({"kind": "uniform", "lo": float(lo), "hi": float(hi), "value": out.item()})
            return out

        def rec_rand(*size, **kwargs):
            out = rand(*size, **kwargs)
            draws.append({"kind": "uniform", "lo": 0.0, "hi": 1.0, "value": out.item()})
            return out

        def rec_randint(low, high, size, **kwargs):
            out = randint(low, high, size, **kwargs)
            draws.append({"kind": "intn", "n": int(high - low), "value": int(out.item() - low)})
            return out

        torch.Tensor.uniform_, torch.rand, torch.randint = rec_uniform, rec_rand, rec_randint
        return self

    def __exit__(self, *exc):
        torch.Tensor.uniform_, torch.rand, torch.randint = self.saved


def val_crops(out, archive):
    """The validation pipeline's 8-bit output (before ToTensor) for every val image and the train JPEGs with
    subsampled chroma."""
    pipeline = T.Compose([T.Resize(256), T.CenterCrop(224)])
    entries = []
    blob = bytearray()
    for name in sorted(archive.namelist()):
        if not name.lower().endswith((".jpg", ".jpeg")):
            continue
        data = archive.read(name)
        img = Image.open(io.BytesIO(data))
        subsampled = img.layer[0][1:3] != (1, 1)
        if "/val/" not in name and not subsampled:
            continue
        crop = pipeline(pil_loader(data))
        entries.append({"entry": name, "offset": len(blob), "subsampled": subsampled})
        blob += u8(crop)
    atomic_write(out / "val_crops.u8", bytes(blob))
    write_json(out / "val_crops.json", {"size": 224, "images": entries})


def jpeg_hashes(out, archive):
    """The SHA-256 of PIL's RGB decoding of every JPEG in the dataset zip: the decoder must give the same bytes."""
    images = []
    for name in sorted(archive.namelist()):
        if name.lower().endswith((".jpg", ".jpeg")):
            img = pil_loader(archive.read(name))
            images.append({"entry": name, "width": img.size[0], "height": img.size[1],
                           "sha256": hashlib.sha256(u8(img)).hexdigest()})
    write_json(out / "jpeg_hashes.json", {"images": images})


def png_golden(out, archive):
    """Resizes and both pipelines on a losslessly stored photo, where decoders cannot differ."""
    photo = pil_loader(archive.read("hymenoptera_data/val/bees/10870992_eebeeb3a12.jpg"))
    buf = io.BytesIO()
    photo.save(buf, format="PNG")
    atomic_write(out / "photo.png", buf.getvalue())
    golden = {"photo": "photo.png", "width": photo.size[0], "height": photo.size[1],
              "resizes": [], "val": [], "train": []}
    w, h = photo.size
    # Downscales (antialiased) by various factors, upscales, one side only, extreme.
    for size in [(341, 256), (224, 224), (w, 200), (300, h), (123, 77), (31, 23), (700, 601), (1, 1), (w * 2 - 1, 9)]:
        name = f"resize_{size[0]}x{size[1]}.u8"
        atomic_write(out / name, u8(photo.resize(size, Image.BILINEAR)))
        golden["resizes"].append({"width": size[0], "height": size[1], "file": name})
    for size in [224, 32]:
        pipeline = T.Compose([T.Resize(round(size * 256 / 224)), T.CenterCrop(size), T.ToTensor(),
                              T.Normalize(MEAN, STD)])
        name = f"val_{size}.f32"
        tensor = pipeline(photo)
        atomic_write(out / name, f32_hwc(tensor))
        golden["val"].append({"size": size, "file": name, "height": tensor.shape[1], "width": tensor.shape[2]})
    for size, seeds in [(224, [0, 1, 2]), (61, [3, 4, 5, 6, 7, 8, 9, 10])]:
        pipeline = T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(),
                              T.Normalize(MEAN, STD)])
        for seed in seeds:
            torch.manual_seed(seed)
            with Recorder() as rec:
                tensor = pipeline(photo)
            name = f"train_{size}_{seed}.f32"
            atomic_write(out / name, f32_hwc(tensor))
            golden["train"].append({"size": size, "file": name, "draws": rec.draws})
    write_json(out / "png_golden.json", golden)


def crop_params(out):
    """get_params on shapes that fit easily, barely, or not at all (the central-crop fallback), and on other scale
    and ratio ranges, with the draws that produced each crop."""
    shapes = [(500, 375), (375, 500), (193, 130), (500, 146), (2592, 1984), (224, 224), (1, 1), (2, 3), (7, 5),
              (1000, 10), (10, 1000), (3, 500), (640, 100), (100, 640)]
    ranges = [((0.08, 1.0), (3 / 4, 4 / 3)), ((0.9, 1.0), (0.2, 0.25)), ((0.5, 0.6), (5.0, 6.0)),
              ((1.0, 1.0), (1.0, 1.0))]
    cases = []
    for scale, ratio in ranges:
        for w, h in shapes:
            img = Image.new("RGB", (w, h))
            for seed in range(12):
                torch.manual_seed(1000 * seed + w + h)
                with Recorder() as rec:
                    i, j, ch, cw = T.RandomResizedCrop.get_params(img, list(scale), list(ratio))
                cases.append({"width": w, "height": h, "scale": scale, "ratio": ratio, "draws": rec.draws,
                              "top": i, "left": j, "crop_height": ch, "crop_width": cw})
    write_json(out / "crop_params.json", {"cases": cases})


def coordinate_image(w, h):
    """An image whose pixel (x, y) is (x mod 256, y mod 256, x/256 + 16·(y/256)), so that a crop shows where it
    came from."""
    x = np.arange(w)[None, :].repeat(h, 0)
    y = np.arange(h)[:, None].repeat(w, 1)
    return Image.fromarray(np.stack([x % 256, y % 256, x // 256 + 16 * (y // 256)], axis=2).astype(np.uint8), "RGB")


def sizes(out):
    """Resize(256) (and the small pipelines' Resize(37)) output sizes, and CenterCrop offsets, on many shapes."""
    special = [(193, 130), (500, 146), (2592, 1984), (224, 224), (225, 225), (227, 229), (229, 227), (256, 256),
               (100, 50), (300, 100), (100, 300), (223, 500), (1, 1), (500, 333), (333, 500), (257, 1000), (255, 255),
               (300, 200), (200, 300), (1000, 3), (3, 1000), (226, 500)]
    shapes = special + [(w, h) for w in range(1, 400, 13) for h in range(1, 400, 17)]
    resized = []
    for w, h in shapes:
        for size in [256, 37]:
            # Exactly what Resize(size) produces on a PIL image of this shape (resizing is skipped: only the size
            # arithmetic is wanted, and torchvision computes it from the shape alone).
            new_h, new_w = F._compute_resized_output_size((h, w), [size])
            resized.append({"width": w, "height": h, "size": size, "out_width": new_w, "out_height": new_h})
    crops = []
    for w, h in shapes:
        for size in [224, 32, 7]:
            # The crop's origin in image coordinates (negative where padded), read from a tensor of 1-based
            # coordinates (0 is padding): the tensor path shares the PIL path's offset and padding arithmetic.
            coords = torch.stack([torch.arange(1, w + 1)[None, :].expand(h, w),
                                  torch.arange(1, h + 1)[:, None].expand(h, w)])
            crop = F.center_crop(coords, [size])
            r, c = [int(v[0]) for v in ((crop[0] > 0) & (crop[1] > 0)).nonzero(as_tuple=True)]
            x0, y0 = int(crop[0, r, c]) - 1 - c, int(crop[1, r, c]) - 1 - r
            crops.append({"width": w, "height": h, "size": size, "left": x0, "top": y0})
    images = []
    blob = bytearray()
    for w, h in special:
        crop = T.CenterCrop(224)(coordinate_image(w, h))
        images.append({"width": w, "height": h, "offset": len(blob)})
        blob += u8(crop)
    atomic_write(out / "center_crops.u8", bytes(blob))
    write_json(out / "sizes.json", {"resize": resized, "center_crop": crops, "center_crop_images": images})


def formats(out):
    """One small image per format and mode, with PIL's convert("RGB") of it."""
    dest = out / "formats"
    (out / "formats.json").unlink(missing_ok=True)
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    rng = np.random.default_rng(7)
    w, h = 67, 45  # not multiples of 8 or 16: JPEG blocks and chroma subsampling hit the edges
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), (xx + yy) * 3 % 256], axis=2)
    base = np.clip(base + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)
    rgb = Image.fromarray(base, "RGB")
    alpha = Image.fromarray((xx * 255 // (w - 1)).astype(np.uint8), "L")
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    gray16 = Image.fromarray((xx * 977 + yy * 331).astype(np.uint16) * 3, "I;16")
    rgb16 = (base.astype(np.uint16) * 257 + rng.integers(0, 256, base.shape).astype(np.uint16)).astype(">u2")
    paletted = rgb.quantize(colors=37)
    transparent = paletted.copy()
    transparent.info["transparency"] = 5

    files = []

    def add(name, data, expect="exact", note=""):
        """expect: exact (must equal PIL's RGB) or gray16 (PIL clips 16-bit greyscale to 255; we keep the high
        byte: compare with raw16 >> 8)."""
        (dest / name).write_bytes(data)
        entry = {"file": name, "expect": expect, "note": note}
        if expect == "gray16":
            entry["raw16"] = name + ".raw16"
            atomic_write(dest / entry["raw16"], np.asarray(gray16, dtype="<u2").tobytes())
        img = Image.open(dest / name)
        entry["pil_mode"] = img.mode
        converted = img.convert("RGB")
        entry["width"], entry["height"] = converted.size
        entry["rgb"] = name + ".rgb"
        atomic_write(dest / entry["rgb"], u8(converted))
        files.append(entry)

    def saved(img, fmt, **kwargs):
        buf = io.BytesIO()
        img.save(buf, format=fmt, **kwargs)
        return buf.getvalue()

    add("rgb.png", saved(rgb, "PNG"))
    add("gray.png", saved(rgb.convert("L"), "PNG"))
    add("gray16.png", saved(gray16, "PNG"), expect="gray16")
    add("rgb16.png", png16(rgb16), note="16-bit RGB: PIL keeps the high byte")
    add("rgba.png", saved(rgba, "PNG"))
    add("la.png", saved(rgba.convert("LA"), "PNG"))
    add("palette.png", saved(paletted, "PNG"))
    add("palette_transparent.png", saved(transparent, "PNG", transparency=5))
    add("rgb.jpg", saved(rgb, "JPEG", quality=90))
    add("rgb420.jpg", saved(rgb, "JPEG", quality=90, subsampling=2))
    add("rgb422.jpg", saved(rgb, "JPEG", quality=90, subsampling=1))
    add("progressive.jpg", saved(rgb, "JPEG", quality=85, progressive=True))
    add("gray.jpg", saved(rgb.convert("L"), "JPEG", quality=90))
    add("cmyk.jpg", saved(rgb.convert("CMYK"), "JPEG", quality=95), note="Adobe CMYK")
    add("lossy.webp", saved(rgb, "WEBP", quality=90))
    add("lossy_alpha.webp", saved(rgba, "WEBP", quality=90))
    add("lossy_even.webp", saved(rgb.crop((0, 0, w - 1, h - 1)), "WEBP", quality=80))
    add("rgb.bmp", saved(rgb, "BMP"))
    add("palette.bmp", saved(paletted, "BMP"))
    add("rgb.tif", saved(rgb, "TIFF"))
    add("rgba.tiff", saved(rgba, "TIFF"))
    add("gray.tif", saved(rgb.convert("L"), "TIFF"))
    add("lossless.webp", saved(rgb, "WEBP", lossless=True))
    add("rgb.ppm", saved(rgb, "PPM"))
    add("gray.pgm", saved(rgb.convert("L"), "PPM"))
    add("plain.ppm", netpbm_plain("P3", base, 255))
    add("plain.pgm", netpbm_plain("P2", np.asarray(rgb.convert("L")), 255))
    add("maxval15.pgm", netpbm_raw("P5", np.asarray(rgb.convert("L")) // 17, 15))
    add("maxval1000.ppm", netpbm_raw("P6", (base.astype(np.uint32) * 1000 // 255).astype(np.uint16), 1000))
    add("maxval65535.ppm", netpbm_raw("P6", base.astype(np.uint16) * 257, 65535))
    add("plain_maxval7.ppm", netpbm_plain("P3", base // 37, 7))
    add("first_frame.gif", saved(paletted, "GIF"))
    for name, data in hand_made_jpegs(base):
        add(name, data, note="hand-made by HandMadeJPEG")
    write_json(out / "formats.json", {"files": files})


class HandMadeJPEG:
    """A small baseline JPEG encoder, for the decoder paths that PIL's encoder never takes: restart intervals,
    16-bit quantisation tables (SOF1), one scan per component, 4:1:1 and 4:1:0 subsampling, RGB and YCCK colour
    (Adobe marker), long Huffman codes. PIL (libjpeg) decodes what it writes, which is the expected result."""

    # One Huffman code for every AC symbol: 8 bits, except the most frequent ones, given 12-bit codes so that the
    # decoder's slow path runs too.
    LONG = [0x00, 0x01, 0x02, 0x11]

    def __init__(self, planes, sampling, ids=(1, 2, 3), restart=0, quant16=False, interleaved=True, adobe=None):
        self.planes, self.sampling, self.ids = planes, sampling, ids
        self.restart, self.quant16, self.interleaved, self.adobe = restart, quant16, interleaved, adobe
        self.ac_symbols = [0x00, 0xF0] + [(r << 4) | s for r in range(16) for s in range(1, 11)]
        short = [s for s in self.ac_symbols if s not in self.LONG]
        self.ac_counts = [0] * 16
        self.ac_counts[7], self.ac_counts[11] = len(short), len(self.LONG)
        self.ac_order = short + self.LONG
        self.ac_codes = self.canonical(self.ac_counts, self.ac_order)
        self.dc_counts = [0] * 16
        self.dc_counts[3] = 12
        self.dc_codes = self.canonical(self.dc_counts, list(range(12)))
        base = np.array([16, 11, 10, 16, 24, 40, 51, 61] * 8).reshape(8, 8) + np.arange(8)[:, None] * 3
        self.quant = base * (7 if quant16 else 1)  # up to 441: needs 16-bit entries

    @staticmethod
    def canonical(counts, symbols):
        codes, code, k = {}, 0, 0
        for length in range(1, 17):
            for _ in range(counts[length - 1]):
                codes[symbols[k]] = (code, length)
                code, k = code + 1, k + 1
            code <<= 1
        return codes

    def encode(self):
        h, w = self.planes[0].shape[0] // 1, self.planes[0].shape[1]
        self.hmax = max(s[0] for s in self.sampling)
        self.vmax = max(s[1] for s in self.sampling)
        self.w, self.h = w, h
        out = bytearray(b"\xff\xd8")
        if self.adobe is not None:
            out += self.segment(0xEE, b"Adobe" + bytes([0, 100, 0, 0, 0, 0, self.adobe]))
        precision = 1 if self.quant16 else 0
        table = bytes([precision << 4])
        zz = self.zigzag()
        for k in range(64):
            v = int(self.quant.flat[zz[k]])
            table += v.to_bytes(2, "big") if self.quant16 else bytes([v])
        out += self.segment(0xDB, table)
        sof = bytes([8]) + h.to_bytes(2, "big") + w.to_bytes(2, "big") + bytes([len(self.planes)])
        for cid, (sh, sv) in zip(self.ids, self.sampling):
            sof += bytes([cid, sh << 4 | sv, 0])
        out += self.segment(0xC1 if self.quant16 else 0xC0, sof)
        dht = bytes([0x00]) + bytes(self.dc_counts) + bytes(range(12))
        dht += bytes([0x10]) + bytes(self.ac_counts) + bytes(self.ac_order)
        out += self.segment(0xC4, dht)
        if self.restart:
            out += self.segment(0xDD, self.restart.to_bytes(2, "big"))
        blocks = [self.blocks(i) for i in range(len(self.planes))]
        scans = [list(range(len(self.planes)))] if self.interleaved else [[i] for i in range(len(self.planes))]
        for comps in scans:
            sos = bytes([len(comps)])
            for i in comps:
                sos += bytes([self.ids[i], 0x00])
            sos += bytes([0, 63, 0])
            out += self.segment(0xDA, sos)
            out += self.entropy(comps, blocks)
        return bytes(out + b"\xff\xd9")

    @staticmethod
    def segment(marker, payload):
        return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload

    @staticmethod
    def zigzag():
        order = sorted(((x + y, -x if (x + y) % 2 else x, y * 8 + x) for y in range(8) for x in range(8)))
        return [i for _, _, i in order]

    def blocks(self, i):
        """The quantised DCT blocks of component i, over the MCU-padded plane (edges replicated)."""
        plane = self.planes[i].astype(np.float64)
        sh, sv = self.sampling[i]
        mcu_w, mcu_h = 8 * self.hmax, 8 * self.vmax
        bw = -(-self.w // mcu_w) * sh
        bh = -(-self.h // mcu_h) * sv
        padded = np.pad(plane, ((0, bh * 8 - plane.shape[0]), (0, bw * 8 - plane.shape[1])), mode="edge") - 128
        n = np.arange(8)
        basis = np.cos((2 * n[None, :] + 1) * n[:, None] * np.pi / 16) * np.where(n == 0, np.sqrt(1 / 8), 0.5)[:, None]
        out = np.zeros((bh, bw, 64), dtype=np.int64)
        for by in range(bh):
            for bx in range(bw):
                coef = basis @ padded[by * 8:by * 8 + 8, bx * 8:bx * 8 + 8] @ basis.T
                out[by, bx] = np.round(coef / self.quant).astype(np.int64).flatten()[self.zigzag()]
        used = (-(-(-(-self.w * sh // self.hmax)) // 8), -(-(-(-self.h * sv // self.vmax)) // 8))
        return out, used

    def entropy(self, comps, blocks):
        bits = BitWriter()
        pred = {i: 0 for i in comps}
        if len(comps) == 1:
            (data, (uw, uh)) = blocks[comps[0]]
            units = [[(comps[0], by, bx)] for by in range(uh) for bx in range(uw)]
        else:
            mx = -(-self.w // (8 * self.hmax))
            my = -(-self.h // (8 * self.vmax))
            units = [[(i, y * self.sampling[i][1] + v, x * self.sampling[i][0] + u) for i in comps
                      for v in range(self.sampling[i][1]) for u in range(self.sampling[i][0])]
                     for y in range(my) for x in range(mx)]
        for n, unit in enumerate(units):
            if self.restart and n > 0 and n % self.restart == 0:
                bits.flush()
                bits.raw(bytes([0xFF, 0xD0 + (n // self.restart - 1) % 8]))
                pred = {i: 0 for i in comps}
            for i, by, bx in unit:
                block = blocks[i][0][by, bx]
                diff = int(block[0]) - pred[i]
                pred[i] = int(block[0])
                size = abs(diff).bit_length()
                bits.code(self.dc_codes[size])
                bits.value(diff, size)
                run = 0
                for k in range(1, 64):
                    v = int(block[k])
                    if v == 0:
                        run += 1
                        continue
                    while run > 15:
                        bits.code(self.ac_codes[0xF0])
                        run -= 16
                    size = abs(v).bit_length()
                    bits.code(self.ac_codes[run << 4 | size])
                    bits.value(v, size)
                    run = 0
                if run:
                    bits.code(self.ac_codes[0x00])
        bits.flush()
        return bits.out


class BitWriter:
    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, value, length):
        self.acc, self.n = (self.acc << length) | value, self.n + length
        while self.n >= 8:
            byte = (self.acc >> (self.n - 8)) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0)
            self.n -= 8
        self.acc &= (1 << self.n) - 1

    def code(self, code_length):
        self.put(*code_length)

    def value(self, v, size):
        if size:
            self.put(v if v > 0 else v + (1 << size) - 1, size)

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)

    def raw(self, data):
        self.out += data


def hand_made_jpegs(rgb):
    """(name, bytes) of the HandMadeJPEG variants, from an RGB array."""
    img = Image.fromarray(rgb, "RGB")
    ycc = np.asarray(img.convert("YCbCr")).astype(np.float64)
    h, w, _ = rgb.shape

    def down(plane, fx, fy):
        cw, ch = -(-w // fx), -(-h // fy)
        p = np.pad(plane, ((0, ch * fy - h), (0, cw * fx - w)), mode="edge")
        return p.reshape(ch, fy, cw, fx).mean(axis=(1, 3))

    y, cb, cr = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    k = (xx_of(w, h) * 3) % 256
    planes = [rgb[..., c].astype(np.float64) for c in range(3)]
    full = [(1, 1)] * 3
    cases = {
        "restart_420.jpg": ([y, down(cb, 2, 2), down(cr, 2, 2)], [(2, 2), (1, 1), (1, 1)], dict(restart=3)),
        "restart_1_noninterleaved.jpg": ([y, cb, cr], full, dict(restart=1, interleaved=False)),
        "quant16_411.jpg": ([y, down(cb, 4, 1), down(cr, 4, 1)], [(4, 1), (1, 1), (1, 1)], dict(quant16=True)),
        "subsampled_410.jpg": ([y, down(cb, 4, 2), down(cr, 4, 2)], [(4, 2), (1, 1), (1, 1)],
                               dict(restart=5, interleaved=False)),
        "rgb_adobe.jpg": (planes, full, dict(adobe=0)),
        "rgb_ids.jpg": (planes, full, dict(ids=(82, 71, 66))),
        "ycck.jpg": ([y, down(cb, 2, 1), down(cr, 2, 1), k], [(2, 1), (1, 1), (1, 1), (2, 1)],
                     dict(ids=(1, 2, 3, 4), adobe=2)),
    }
    for name, (components, sampling, options) in cases.items():
        yield name, HandMadeJPEG(components, sampling, **options).encode()


def xx_of(w, h):
    return np.mgrid[0:h, 0:w][1].astype(np.float64)


def netpbm_raw(magic, samples, maxval):
    header = f"{magic}\n# written by data_fixtures.py\n{samples.shape[1]} {samples.shape[0]}\n{maxval}\n".encode()
    dtype = ">u2" if maxval > 255 else "u1"
    return header + samples.astype(dtype).tobytes()


def netpbm_plain(magic, samples, maxval):
    values = samples.reshape(samples.shape[0], -1)
    rows = "\n".join(" ".join(str(v) for v in row) for row in values)
    return f"{magic}\n{samples.shape[1]} {samples.shape[0]} # size\n{maxval}\n{rows}\n".encode()


def png16(samples):
    """A 16-bit RGB PNG (PIL cannot write one), built with zlib."""
    h, w, _ = samples.shape

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + samples[y].astype(">u2").tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def folder(out):
    """A class tree exercising torchvision's ImageFolder rules, and what ImageFolder makes of it."""
    root = out / "folder"
    (out / "folder.json").unlink(missing_ok=True)
    shutil.rmtree(root, ignore_errors=True)
    files = [
        "ants/a.jpg", "ants/B.JPG", "ants/c.Png", "ants/d.gif", "ants/e.txt", "ants/f.jpeg", "ants/.hidden.jpg",
        "ants/x y.webp", "ants/noext", "ants/sub/g.jpg", "ants/sub-2/h.jpg", "ants/sub/deeper/i.tif",
        "ants/sub.jpg/j.bmp", "ants/sub/deeper/k.tiff.bak", "bees/k.ppm", "bees/l.pgm", "bees/m.TIFF",
        "Zebra/n.jpg", "Zebra/z/o.png", "notaclass.jpg",
    ]
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not decoded: only the listing is compared")
    os.symlink("../ants/sub", root / "bees" / "linked_dir")
    os.symlink("../ants/a.jpg", root / "bees" / "linked_file.jpg")
    os.symlink("..", root / "Zebra" / "z" / "loop")  # a link back to an ancestor
    os.symlink("ants", root / "linked_class")
    # os.walk follows the link to an ancestor until the kernel refuses (ELOOP), listing the same files again at
    # each level; Go does not follow it, and must give torchvision's listing of the tree without the link.
    with_loop = len(ImageFolder(str(root)).samples)
    (root / "Zebra" / "z" / "loop").unlink()
    ds = ImageFolder(str(root))
    result = {"classes": ds.classes, "samples": [[os.path.relpath(p, root), label] for p, label in ds.samples],
              "samples_with_loop": with_loop}
    os.symlink("..", root / "Zebra" / "z" / "loop")

    empty = out / "folder_empty_class"
    shutil.rmtree(empty, ignore_errors=True)
    (empty / "ants").mkdir(parents=True)
    (empty / "ants" / "a.jpg").write_bytes(b"x")
    (empty / "bees").mkdir()
    (empty / "wasps").mkdir()
    (empty / "wasps" / "w.gif").write_bytes(b"x")
    try:
        ImageFolder(str(empty))
        result["empty_class_error"] = None
    except FileNotFoundError as err:
        result["empty_class_error"] = str(err)
    write_json(out / "folder.json", result)


def main():
    setup_torch()
    out = fixtures_dir("data")
    crop_params(out)
    sizes(out)
    formats(out)
    folder(out)
    zip_path = dataset_zip()
    if not zip_path.exists():
        print(f"data_fixtures.py: {zip_path} is missing (set HYMENOPTERA_TEST_ZIP): skipped the fixtures made from "
              "the dataset", file=sys.stderr)
        return
    with zipfile.ZipFile(zip_path) as archive:
        png_golden(out, archive)
        jpeg_hashes(out, archive)
        val_crops(out, archive)


if __name__ == "__main__":
    main()
