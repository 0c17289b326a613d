/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs a fuzz target over files and directories without libFuzzer, so that the corpus and
 * every crash ever found are replayed by the fast test tier with any compiler. */

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>

#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;

        if (!f)
                return fprintf(stderr, "%s: %m\n", path), -errno;
        /* Read raw bytes, NULs included. */
        for (size_t cap = 0;;) {
                size_t n;

                if (len == cap) {
                        char *b = realloc(buf, (cap = cap ? cap * 2 : 4096));

                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                n = fread(buf + len, 1, cap - len, f);
                len += n;
                if (n == 0)
                        break;
        }
        fprintf(stderr, "%s (%zu bytes)\n", path, len);
        (void) LLVMFuzzerTestOneInput((const uint8_t *) buf, len);
        return 0;
}

int main(int argc, char **argv)
{
        int r = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                DIR *d;

                if (stat(argv[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
                        if (run_file(argv[i]) < 0)
                                r = 1;
                        continue;
                }
                d = opendir(argv[i]);
                if (!d)
                        return 1;
                for (struct dirent *de; (de = readdir(d));) {
                        _cleanup_free_ char *p = NULL;

                        if (de->d_name[0] == '.' || streq(de->d_name, "README.md"))
                                continue;
                        if (asprintf(&p, "%s/%s", argv[i], de->d_name) < 0)
                                return 1;
                        if (run_file(p) < 0)
                                r = 1;
                }
                closedir(d);
        }
        return r;
}
