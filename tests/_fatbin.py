"""Reads the GPU code a CUDA build embeds: the fat binaries of an ELF file's .nv_fatbin
section, as (kind, architecture) pairs - kind "elf" for machine code (a cubin), "ptx" for
PTX that the driver compiles for newer GPUs."""

import struct

_FATBIN_MAGIC = 0xBA55ED50
_KINDS = {1: "ptx", 2: "elf"}


def _section(data, wanted):
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise ValueError("not a 64-bit ELF file")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_at = headers[shstrndx][4]
    for name_off, _, _, _, offset, size in headers:
        start = names_at + name_off
        if data[start:data.index(b"\0", start)].decode() == wanted:
            return data[offset:offset + size]
    return b""


def gpu_code(path):
    """[(kind, sm)] for every entry of every fat binary in the file at `path`."""
    with open(path, "rb") as f:
        blob = _section(f.read(), ".nv_fatbin")
    out, pos = [], 0
    while pos + 16 <= len(blob):
        magic, _, header, size = struct.unpack_from("<IHHQ", blob, pos)
        if magic != _FATBIN_MAGIC:
            pos += 8  # fat binaries are 8-byte aligned in the section
            continue
        entry, end = pos + header, pos + header + size
        while entry + 32 <= end:
            kind, _, entry_header, entry_size = struct.unpack_from("<HHIQ", blob, entry)
            arch = struct.unpack_from("<I", blob, entry + 28)[0]
            out.append((_KINDS.get(kind, str(kind)), arch))
            entry += entry_header + entry_size
        pos = end
    return out
