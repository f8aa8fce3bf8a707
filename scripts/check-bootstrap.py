#!/usr/bin/env python3
"""Checks a Lambda bootstrap SAM or cargo-lambda built: an executable ELF
file for the expected architecture (arm64 or x86_64), of a plausible size.

usage: scripts/check-bootstrap.py BOOTSTRAP arm64|x86_64
"""
import os
import sys

MACHINES = {"arm64": 0xB7, "x86_64": 0x3E}  # ELF e_machine values

path, arch = sys.argv[1], sys.argv[2]
if not os.path.isfile(path):
    sys.exit(f"check-bootstrap: {path} was not built")
with open(path, "rb") as f:
    header = f.read(20)
if header[:4] != b"\x7fELF" or header[4] != 2:
    sys.exit(f"check-bootstrap: {path} is not a 64-bit ELF file")
machine = int.from_bytes(header[18:20], "little")
if machine != MACHINES[arch]:
    sys.exit(f"check-bootstrap: {path} is for machine 0x{machine:x}, not {arch}")
if not os.access(path, os.X_OK):
    sys.exit(f"check-bootstrap: {path} is not executable")
size = os.path.getsize(path)
if not 1 << 20 < size < 64 << 20:
    sys.exit(f"check-bootstrap: {path} is {size} bytes")
print(f"bootstrap: {path}, ELF {arch}, {size / (1 << 20):.1f} MiB")
