#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# inotify-watch.py LOG FILE...: append one line to LOG for every write to one of FILEs
# (IN_MODIFY, IN_CLOSE_WRITE). Works on sysfs attributes: vfs_write() notifies even when
# the kernel treats the value as a no-op, so "sriovd wrote sriov_numvfs" can be seen.
# Creates LOG.ready once the watches are in place.
import ctypes
import os
import struct
import sys

IN_MODIFY, IN_CLOSE_WRITE = 0x2, 0x8
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
if fd < 0:
    sys.exit(f'inotify_init1: {os.strerror(ctypes.get_errno())}')
names = {}
for p in sys.argv[2:]:
    wd = libc.inotify_add_watch(fd, p.encode(), IN_MODIFY | IN_CLOSE_WRITE)
    if wd < 0:
        sys.exit(f'inotify_add_watch {p}: {os.strerror(ctypes.get_errno())}')
    names[wd] = p
log = open(sys.argv[1], 'a', buffering=1)
open(sys.argv[1] + '.ready', 'w').close()
while True:
    data = os.read(fd, 65536)
    off = 0
    while off < len(data):
        wd, mask, _, ln = struct.unpack_from('iIII', data, off)
        off += 16 + ln
        kind = 'modify' if mask & IN_MODIFY else 'close_write'
        log.write(f'{kind} {names.get(wd, wd)}\n')
