"""Just enough of ELF, PE and Mach-O to find a named section's bytes and map a virtual address to
a file offset (for Go build info and cargo-auditable data). Every read is bounds-checked."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from moorage.scanner.errors import ParseError

ELF_MAGIC = b"\x7fELF"
MAX_SECTIONS = 65535


@dataclass(frozen=True, slots=True)
class Section:
    """A section: name, virtual address, and where its bytes are in the file."""

    name: str
    """Section name (``.go.buildinfo``)."""
    address: int
    """Virtual address."""
    offset: int
    """File offset."""
    size: int
    """Size in the file."""


def is_executable_format(content: bytes) -> bool:
    """ELF, PE or Mach-O by magic."""
    head = content[:4]
    return (
        head == ELF_MAGIC
        or head[:2] == b"MZ"
        or head in (b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe")
    )


def elf_sections(content: bytes) -> list[Section]:
    """The sections of an ELF file (32/64-bit, either byte order)."""
    if content[:4] != ELF_MAGIC or len(content) < 52:
        raise ParseError("not an ELF file")
    klass, data = content[4], content[5]
    if klass not in (1, 2) or data not in (1, 2):
        raise ParseError("bad ELF class or byte order")
    e = "<" if data == 1 else ">"
    try:
        if klass == 2:
            (shoff,) = struct.unpack_from(f"{e}Q", content, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from(f"{e}HHH", content, 0x3A)
        else:
            (shoff,) = struct.unpack_from(f"{e}I", content, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from(f"{e}HHH", content, 0x2E)
        if shnum == 0 or shnum > MAX_SECTIONS or shoff + shnum * shentsize > len(content) or shstrndx >= shnum:
            raise ParseError("ELF section table out of bounds")
        raw: list[tuple[int, int, int, int, int]] = []
        for i in range(shnum):
            base = shoff + i * shentsize
            if klass == 2:
                name, kind, _, addr, off, size = struct.unpack_from(f"{e}IIQQQQ", content, base)
            else:
                name, kind, _, addr, off, size = struct.unpack_from(f"{e}IIIIII", content, base)
            raw.append((name, kind, addr, off, size))
        _, _, _, str_off, str_size = raw[shstrndx]
        strtab = content[str_off : str_off + str_size]
        out = []
        for name_off, kind, addr, off, size in raw:
            end = strtab.find(b"\x00", name_off)
            label = strtab[name_off:end].decode("ascii", errors="replace") if end >= 0 else ""
            file_size = 0 if kind == 8 else size  # SHT_NOBITS has no file bytes
            out.append(Section(label, addr, off, file_size))
        return out
    except struct.error as exc:
        raise ParseError(f"truncated ELF file: {exc}") from exc


def section_bytes(content: bytes, name: str) -> bytes | None:
    """The bytes of the ELF section ``name`` (None when absent or the file is not ELF)."""
    if content[:4] != ELF_MAGIC:
        return None
    for section in elf_sections(content):
        if section.name == name:
            if section.offset + section.size > len(content):
                raise ParseError(f"section {name} out of bounds")
            return content[section.offset : section.offset + section.size]
    return None


def read_at_address(content: bytes, sections: list[Section], address: int, size: int) -> bytes:
    """``size`` bytes at a virtual address, through the section that maps it."""
    for section in sections:
        if section.size and section.address <= address < section.address + section.size:
            start = section.offset + (address - section.address)
            if start + size > len(content) or address + size > section.address + section.size:
                raise ParseError("address range out of bounds")
            return content[start : start + size]
    raise ParseError(f"address {address:#x} is in no section")
