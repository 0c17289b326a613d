/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dlfcn.h>
#include <errno.h>

#include "dlopen-util.h"
#include "log.h"

int dlopen_symbols(DlLibrary *lib, const DlSym *syms, size_t n_syms)
{
        void *h;

        if (lib->handle)
                return 0;
        if (lib->error < 0)
                return lib->error;
        h = dlopen(lib->soname, RTLD_NOW | RTLD_NODELETE);
        if (!h) {
                log_debug("Cannot load %s: %s", lib->soname, dlerror());
                return lib->error = -EOPNOTSUPP;
        }
        for (size_t i = 0; i < n_syms; i++) {
                *syms[i].fn = dlsym(h, syms[i].name);
                if (!*syms[i].fn) {
                        log_debug("%s has no %s: %s", lib->soname, syms[i].name, dlerror());
                        for (size_t k = 0; k < n_syms; k++)
                                *syms[k].fn = NULL;
                        (void) dlclose(h);
                        return lib->error = -EOPNOTSUPP;
                }
        }
        log_debug("Loaded %s.", lib->soname);
        lib->handle = h;
        return 0;
}
