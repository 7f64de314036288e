#!/usr/bin/env python3
"""Writes the byte and text seeds of the fuzz corpus (the HDF5 seeds come from make-hdf5-seeds.c)."""
import json, struct, sys, os

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "corpus")

def parts(*blobs):
    # Every part but the last carries a 2-byte little-endian length (the fuzz targets' splitInput).
    return b"".join(struct.pack("<H", len(b)) + b for b in blobs[:-1]) + blobs[-1]

images = struct.pack(">IIII", 0x803, 1, 28, 28) + bytes(i % 256 for i in range(784))
labels = struct.pack(">II", 0x801, 1) + b"\x03"
open(f"{out}/FuzzIDX/one-image.bin", "wb").write(parts(images, labels, images, labels))

record = b"\x01\x05" + bytes(i % 256 for i in range(3072))  # CIFAR-100: coarse, fine, 3×32×32 pixels
open(f"{out}/FuzzCIFAR/one-record.bin", "wb").write(parts(record, record))

leaf = json.dumps({"users": ["f0000_14"], "num_samples": [1], "hierarchies": [],
                   "user_data": {"f0000_14": {"x": [[round(i / 784, 3) for i in range(784)]], "y": [7]}}},
                  separators=(",", ":")).encode()
open(f"{out}/FuzzFEMNIST/one-writer.bin", "wb").write(parts(leaf, leaf))
