#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# elf-offsets.py FILE FUNCTION...: "FUNCTION 0xOFFSET" per function found in FILE's symbol
# tables (.symtab, then .dynsym), the file offset a uprobe takes. The VM bench runs it in the
# guest, which has python3 but no binutils.
import struct
import sys

f = open(sys.argv[1], 'rb').read()
shoff, = struct.unpack_from('<Q', f, 0x28)
shentsize, shnum = struct.unpack_from('<HH', f, 0x3a)
secs = [struct.unpack_from('<IIQQQQIIQQ', f, shoff + i * shentsize) for i in range(shnum)]
phoff, = struct.unpack_from('<Q', f, 0x20)
phentsize, phnum = struct.unpack_from('<HH', f, 0x36)
phs = [struct.unpack_from('<IIQQQQQQ', f, phoff + i * phentsize) for i in range(phnum)]
want, seen = set(sys.argv[2:]), set()
for kind in (2, 11):  # SHT_SYMTAB, SHT_DYNSYM
    for sym in (s for s in secs if s[1] == kind):
        strtab = secs[sym[6]]
        for i in range(sym[5] // 24):
            name_off, info, _, _, value, _ = struct.unpack_from('<IBBHQQ', f, sym[4] + i * 24)
            if info & 0xf != 2 or not value:  # STT_FUNC, defined here
                continue
            start = strtab[4] + name_off
            name = f[start:f.index(b'\0', start)].decode()
            if name not in want or name in seen:
                continue
            for p in phs:  # PT_LOAD holding it: vaddr to file offset
                if p[0] == 1 and p[3] <= value < p[3] + p[5]:
                    print(name, hex(value - p[3] + p[2]))
                    seen.add(name)
                    break
