/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* Optional libraries loaded at first use, as systemd does for its optional dependencies:
 * a host that never needs one (no RDMA device) neither maps nor relocates it, so the
 * daemon starts sooner and idles smaller. The caller declares one pointer per symbol,
 *
 *         static typeof(ibv_open_device) *sym_ibv_open_device;
 *
 * and lists them with DLSYM(ibv_open_device). */
typedef struct DlSym {
        const char *name;
        void **fn;
} DlSym;

#define DLSYM(sym)                         \
        {                                  \
#sym, (void **) &sym_##sym \
        }

typedef struct DlLibrary {
        const char *soname;
        void *handle;
        int error; /* < 0 once loading failed: not retried */
} DlLibrary;

/* Loads lib->soname and every symbol of `syms` once (later calls return at once). 0, or
 * -EOPNOTSUPP when the library or a symbol is missing (logged at debug: the caller decides
 * what that means). */
int dlopen_symbols(DlLibrary *lib, const DlSym *syms, size_t n_syms);
