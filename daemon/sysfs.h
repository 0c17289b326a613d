/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "macro.h"

/* Every sysfs write of the daemon goes through here. On real sysfs the write() is what
 * reports the kernel's error (EBUSY on sriov_numvfs, ENOMEM, EINVAL, ...); a test tree made
 * of plain files cannot fail that way, so tests install their own ops to play the kernel:
 * inject errors, block like a slow NIC, and create the VF devices a numvfs write creates.
 *
 * Writes may be called from worker threads (blocking writes run off the event loop), so
 * ops must be thread safe. */

typedef struct SysfsOps {
        /* path is absolute (from a libudev syspath); returns 0 or -errno. */
        int (*write)(void *userdata, const char *path, const char *value);
        /* Loads a kernel module (a VF driver such as vfio-pci); NULL: run modprobe. */
        int (*load_module)(void *userdata, const char *name);
} SysfsOps;

/* NULL ops restores the real implementation. */
void sysfs_set_ops(const SysfsOps *ops, void *userdata);

int sysfs_write(const char *path, const char *value);
/* syspath + "/" + attr */
int sysfs_write_attr(const char *syspath, const char *attr, const char *value);
int sysfs_write_attr_u32(const char *syspath, const char *attr, uint32_t value);

int sysfs_read_attr(const char *syspath, const char *attr, char **ret);
int sysfs_read_attr_u32(const char *syspath, const char *attr, uint32_t *ret);
int sysfs_read_attr_int(const char *syspath, const char *attr, int *ret);
/* Basename of a symlink's target below syspath (e.g. "driver" -> "igbvf"); -ENOENT if none. */
int sysfs_read_link_attr(const char *syspath, const char *attr, char **ret);
/* The device a relative link attribute (virtfnN, physfn) points to, as a syspath. */
int sysfs_read_link_path(const char *syspath, const char *attr, char **ret);
/* The first entry (not "." or "..") of the directory syspath/dir, e.g. a device's "net": one
 * getdents instead of a udev enumeration. -ENOENT if empty or absent. */
int sysfs_first_entry(const char *syspath, const char *dir, char **ret);
/* The number of the kernel's last uevent. The kernel changes sysfs first, then numbers and
 * sends the event: whatever is read after this number was read has seen every event up to
 * it. */
int sysfs_read_uevent_seqnum(uint64_t *ret);

/* Loads a module through the ops (modprobe on a real system). Blocks: call off the loop. */
int sysfs_load_module(const char *name);

/* The same relative to a directory: dir (a path below dfd, or absolute with AT_FDCWD) and the
 * attribute under it. A VF read from its PF's directory ("../<pci>/driver") walks two path
 * components instead of the whole syspath from the root: see pf.c. */
int sysfs_read_attr_at(int dfd, const char *dir, const char *attr, char **ret);
int sysfs_read_link_attr_at(int dfd, const char *dir, const char *attr, char **ret);
int sysfs_first_entry_at(int dfd, const char *dir, const char *sub, char **ret);
/* sysfs_read_link_path() with dfd open on syspath (AT_FDCWD: none). */
int sysfs_read_link_path_at(int dfd, const char *syspath, const char *attr, char **ret);
/* An O_PATH descriptor of a device's directory, for the *_at() reads (counts as one read). */
int sysfs_open_dir(const char *syspath);

/* Counters for tests and benches: all writes through the seam; reads are the sysfs_read_*()
 * and sysfs_first_entry() calls (one file, link or directory each). */
uint64_t sysfs_get_write_count(void);
uint64_t sysfs_get_read_count(void);
