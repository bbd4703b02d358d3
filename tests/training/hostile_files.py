"""Hostile and damaged checkpoint files, built byte by byte (no file is committed).

Every file holds a valid member ``a.npy`` first (float32 ``[7, 8]``) and then the hostile
part, so a reader that assigned values before checking everything would change ``a``. The
test suite restores them into ``Checkpoint(a=..., v=...)`` (both float32, shape ``(2,)``).

Run it to measure the worst files (time and peak memory of a restore, each in a fresh
process), from the repository root::

    python tests/training/hostile_files.py
"""

from __future__ import annotations

import functools
import io
import os
import struct
import sys
import zlib

import numpy as np

STORED, DEFLATED = 0, 8


def npy_header(descr, shape, fortran_order=False, version=1, length=None) -> bytes:
    """A ``.npy`` header written by hand (NumPy refuses to write the hostile ones)."""
    text = f"{{'descr': {descr!r}, 'fortran_order': {fortran_order}, 'shape': {shape!r}, }}"
    prefix = 10 if version == 1 else 12
    text += " " * (63 - (prefix + len(text)) % 64) + "\n"
    size = len(text) if length is None else length
    packed = struct.pack("<H", size) if version == 1 else struct.pack("<I", size)
    return b"\x93NUMPY" + bytes([version, 0]) + packed + text.encode("latin1")


def npy(array) -> bytes:
    out = io.BytesIO()
    np.save(out, np.asarray(array), allow_pickle=False)
    return out.getvalue()


class Member:
    """One zip entry; ``file_size``/``crc``/``flags``/``method`` may lie."""

    def __init__(self, name, payload: bytes, method=STORED, file_size=None, crc=None,
                 flags=0, compressed: bytes | None = None):
        self.name = name.encode("utf-8")
        self.method = method
        if compressed is None:
            if method == DEFLATED:
                packer = zlib.compressobj(6, zlib.DEFLATED, -15)
                compressed = packer.compress(payload) + packer.flush()
            else:
                compressed = payload
        self.data = compressed
        self.file_size = len(payload) if file_size is None else file_size
        self.crc = zlib.crc32(payload) if crc is None else crc
        self.flags = flags

    def fields(self):
        return (self.flags, self.method, 0, 0x21, self.crc, len(self.data), self.file_size,
                len(self.name))


def write_zip(path, members) -> str:
    """A zip archive with exactly these entries (local headers, data, directory, end)."""
    body, directory = bytearray(), bytearray()
    for member in members:
        offset = len(body)
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, *member.fields(), 0)
        body += member.name + member.data
        directory += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, *member.fields(),
                                 0, 0, 0, 0, 0, offset) + member.name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                      len(directory), len(body), 0)
    with open(path, "wb") as file:
        file.write(bytes(body) + bytes(directory) + end)
    return os.fspath(path)


def valid_a() -> Member:
    return Member("a.npy", npy(np.array([7.0, 8.0], np.float32)))


@functools.lru_cache(maxsize=4)
def deflated_zeros(size: int, prefix: bytes = b"") -> tuple[bytes, int]:
    """``prefix`` and ``size`` zero bytes deflated (a zip bomb: about 1 MB per GiB), and
    their CRC."""
    packer, chunk = zlib.compressobj(9, zlib.DEFLATED, -15), bytes(1 << 24)
    parts, left, crc = [packer.compress(prefix)], size, zlib.crc32(prefix)
    while left:
        piece = chunk[:min(left, len(chunk))]
        parts.append(packer.compress(piece))
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
    parts.append(packer.flush())
    return b"".join(parts), crc


def _v_header_only(descr, shape, **kwargs):
    return lambda: [valid_a(), Member("v.npy", npy_header(descr, shape, **kwargs))]


def _v_with_data(descr, shape, data: bytes):
    return lambda: [valid_a(), Member("v.npy", npy_header(descr, shape) + data)]


def _v_named(name):
    return lambda: [valid_a(), Member(name, npy(np.array([1.0, 2.0], np.float32)))]


def _bomb_lying_about_its_size(bomb_size):
    def members():
        header = npy_header("<f4", (2,))
        compressed, crc = deflated_zeros(bomb_size, prefix=header)
        # the declared size is what (2,) float32 needs; the stream inflates far beyond it
        return [valid_a(), Member("v.npy", b"", method=DEFLATED, compressed=compressed,
                                  file_size=len(header) + 8, crc=crc)]
    return members


def _bomb_declaring_its_size(bomb_size):
    def members():
        header = npy_header("<f4", (2,))
        compressed, crc = deflated_zeros(bomb_size, prefix=header)
        return [valid_a(), Member("v.npy", b"", method=DEFLATED, compressed=compressed,
                                  file_size=len(header) + bomb_size, crc=crc)]
    return members


def hostile_members(bomb_size: int = 1 << 26) -> dict:
    """name -> a function giving the members of a file that must fail with DataLossError."""
    good_v = npy(np.array([1.0, 2.0], np.float32))
    return {
        "V0 dtype, shape (10**18,)": _v_header_only("|V0", (10**18,)),
        "f8, shape (10**12,)": _v_header_only("<f8", (10**12,)),
        "f4, shape (10**18,)": _v_header_only("<f4", (10**18,)),
        "f4, shape (10**9, 10**9)": _v_header_only("<f4", (10**9, 10**9)),
        "negative shape": _v_header_only("<f4", (-2,)),
        "V8 dtype": _v_with_data("|V8", (2,), bytes(16)),
        "object dtype": _v_with_data("|O", (2,), bytes(16)),
        "unicode dtype": _v_with_data("<U2", (2,), bytes(16)),
        "structured dtype": _v_with_data([("x", "<f4")], (2,), bytes(8)),
        "4 GiB header length": _v_header_only("<f4", (2,), version=2, length=2**32 - 1),
        "header longer than NumPy allows": _v_header_only("<f4", (2,) + (1,) * 5000),
        "not an npy member": lambda: [valid_a(), Member("v.npy", b"hello world")],
        "shape fine, data short": _v_with_data("<f4", (2,), bytes(4)),
        "bomb declaring its size": _bomb_declaring_its_size(bomb_size),
        "bomb lying about its size": _bomb_lying_about_its_size(bomb_size),
        "bad CRC": lambda: [valid_a(), Member("v.npy", good_v, crc=1)],
        "stored sizes beyond the file": lambda: [valid_a(), Member(
            "v.npy", good_v, file_size=2**31)],
        "encrypted flag": lambda: [valid_a(), Member("v.npy", good_v, flags=1)],
        "unknown compression": lambda: [valid_a(), Member("v.npy", good_v, method=99)],
        "duplicate member": lambda: [valid_a(), Member("v.npy", good_v), Member(
            "v.npy", good_v)],
        "traversal ../": _v_named("../../v.npy"),
        "traversal inside": _v_named("v/../../etc/v.npy"),
        "absolute name": _v_named("/tmp/v.npy"),
        "backslash name": _v_named("..\\v.npy"),
        "name without .npy": _v_named("v"),
    }


def _measure(kind: str, bomb_size: int) -> None:
    """Restore one hostile file in this (fresh) process; print seconds and peak RSS."""
    import resource
    import tempfile
    import time

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    import tapegrad as tf

    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "ckpt-1.npz")
    if kind == "bomb under an unrelated object":
        compressed, crc = deflated_zeros(bomb_size)
        write_zip(path, [valid_a(), Member("v.npy", npy(np.array([1.0, 2.0], np.float32))),
                         Member("other.npy", b"", method=DEFLATED, compressed=compressed,
                                file_size=bomb_size, crc=crc)])
    else:
        write_zip(path, hostile_members(bomb_size)[kind]())
    a, v = tf.Variable([1.0, 2.0]), tf.Variable([3.0, 4.0])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        tf.train.Checkpoint(a=a, v=v).restore(path)
        outcome = "restored"
    except Exception as error:  # noqa: BLE001 - the outcome is what is measured
        outcome = type(error).__name__
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{kind:34s} {outcome:16s} {seconds * 1000:8.1f} ms  file {os.path.getsize(path):>9} "
          f"B  peak RSS {peak / 1024:6.1f} MiB (before restore {before / 1024:6.1f} MiB)")


if __name__ == "__main__":
    import subprocess

    if len(sys.argv) > 1:
        _measure(sys.argv[1], int(sys.argv[2]))
    else:
        size = 1 << 30
        for name in [*hostile_members(size), "bomb under an unrelated object"]:
            subprocess.run([sys.executable, __file__, name, str(size)], check=True)
