/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdi.h"
#include "lease.h"
#include "log.h"
#include "pf.h"
#include "sysfs.h"
#include "util.h"

void cdi_device_name(const char *pci, char *buf, size_t size)
{
        size_t i = 0;

        for (; pci[i] && i + 1 < size; i++)
                buf[i] = pci[i] == ':' ? '-' : pci[i];
        buf[i] = 0;
}

/* Names, addresses and paths here are kernel names ([A-Za-z0-9._:/-]); escape anyway. */
static void json_chars(FILE *f, const char *s)
{
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '"' || c == '\\')
                        fprintf(f, "\\%c", c);
                else if (c < 0x20)
                        fprintf(f, "\\u%04x", c);
                else
                        fputc(c, f);
        }
}

static void json_string(FILE *f, const char *s)
{
        fputc('"', f);
        json_chars(f, s);
        fputc('"', f);
}

static void json_env(FILE *f, bool *first, const char *key, const char *value)
{
        if (!value)
                return;
        fprintf(f, "%s\"%s=", *first ? "" : ",", key);
        json_chars(f, value);
        fputc('"', f);
        *first = false;
}

static void json_node(FILE *f, bool *first, const char *path)
{
        if (!path)
                return;
        fputs(*first ? "{\"path\":" : ",{\"path\":", f);
        json_string(f, path);
        fputc('}', f);
        *first = false;
}

/* /dev/infiniband/uverbsN of an RDMA device: the infiniband_verbs class device whose ibdev
 * names it. */
static char *uverbs_node(const char *sys_root, const char *rdma_device)
{
        _cleanup_free_ char *dir = path_prefix_root(sys_root, "/sys/class/infiniband_verbs");
        struct dirent *de;
        char *found = NULL;
        DIR *d;

        if (!dir || !(d = opendir(dir)))
                return NULL;
        while (!found && (de = readdir(d))) {
                _cleanup_free_ char *p = NULL, *ibdev = NULL;

                if (de->d_name[0] == '.' || !(p = path_join(dir, de->d_name)))
                        continue;
                if (sysfs_read_attr(p, "ibdev", &ibdev) >= 0 && streq(ibdev, rdma_device))
                        (void) asprintf_safe(&found, "/dev/infiniband/%s", de->d_name);
        }
        closedir(d);
        return found;
}

int cdi_spec_render(const VirtualFunction *vf, const char *sys_root, char **ret)
{
        _cleanup_free_ char *uverbs = NULL;
        char name[64], vfio_buf[VF_VFIO_PATH_MAX];
        const char *vfio_device = vf_vfio_device(vf, vfio_buf);
        char *buf = NULL;
        size_t size = 0;
        bool first = true;
        FILE *f;

        cdi_device_name(vf->pci, name, sizeof(name));
        if (vf->rdma_device)
                uverbs = uverbs_node(sys_root, vf->rdma_device);
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fputs("{\"cdiVersion\":\"0.5.0\",\"kind\":\"" CDI_KIND "\",\"devices\":[{\"name\":", f);
        json_string(f, name);
        fputs(",\"containerEdits\":{\"env\":[", f);
        json_env(f, &first, "SRIOVD_VF_PCI", vf->pci);
        json_env(f, &first, "SRIOVD_VF_POOL", vf->pool);
        json_env(f, &first, "SRIOVD_VF_NETDEV", vf->ifname);
        json_env(f, &first, "SRIOVD_VF_RDMA_DEVICE", vf->rdma_device);
        json_env(f, &first, "SRIOVD_VF_VFIO_GROUP", vfio_device);
        fputs("],\"deviceNodes\":[", f);
        first = true;
        if (vfio_device) {
                json_node(f, &first, "/dev/vfio/vfio");
                json_node(f, &first, vfio_device);
        }
        if (vf->rdma_device) {
                json_node(f, &first, uverbs);
                json_node(f, &first, "/dev/infiniband/rdma_cm");
        }
        fputs("]}}]}\n", f);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

static int cdi_file_name(const VirtualFunction *vf, char **ret)
{
        char name[64];

        cdi_device_name(vf->pci, name, sizeof(name));
        return asprintf_safe(ret, CDI_FILE_PREFIX "%s.json", name);
}

static int open_cdi_dir(Manager *m)
{
        int fd;

        if (mkdir(m->cdi_dir, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        fd = open(m->cdi_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

int cdi_sync_vf(Manager *m, VirtualFunction *vf)
{
        _cleanup_free_ char *name = NULL, *text = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        int r;

        if (!m->cdi_dir)
                return 0;
        if (!vf->allocated && !vf->cdi_spec)
                return 0;
        if (vf->allocated) {
                r = cdi_spec_render(vf, m->sys_root, &text);
                if (r < 0)
                        return r;
                if (streq_ptr(text, vf->cdi_spec))
                        return 0;
        }
        r = cdi_file_name(vf, &name);
        if (r < 0)
                return r;
        dir_fd = open_cdi_dir(m);
        if (dir_fd < 0)
                return log_vf_full_errno(vf, LOG_WARNING, dir_fd, "Cannot open CDI directory %s: %m",
                                         m->cdi_dir);
        if (text) {
                r = write_file_atomic_at(dir_fd, name, text);
                if (r < 0)
                        return log_vf_full_errno(vf, LOG_WARNING, r, "Cannot write CDI spec %s/%s: %m",
                                                 m->cdi_dir, name);
                free(vf->cdi_spec);
                vf->cdi_spec = TAKE_PTR(text);
                log_vf_full_errno(vf, LOG_DEBUG, 0, "Wrote CDI spec %s/%s.", m->cdi_dir, name);
        } else {
                if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
                        return log_vf_full_errno(vf, LOG_WARNING, errno, "Cannot remove CDI spec %s/%s: %m",
                                                 m->cdi_dir, name);
                vf->cdi_spec = mfree(vf->cdi_spec);
        }
        return 0;
}

int cdi_remove_vf(Manager *m, VirtualFunction *vf)
{
        bool was = vf->allocated;
        int r;

        /* The device is going away: so does its spec; the lease stays and brings it back
         * when the VF is re-created. */
        vf->allocated = false;
        r = cdi_sync_vf(m, vf);
        vf->allocated = was;
        return r;
}

int cdi_prune(Manager *m)
{
        _cleanup_close_ int dir_fd = -EBADF;
        struct dirent *de;
        DIR *d;
        int fd;

        if (!m->cdi_dir)
                return 0;
        dir_fd = open(m->cdi_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0 || !(d = fdopendir(fd))) {
                safe_close(fd);
                return -errno;
        }
        while ((de = readdir(d))) {
                if (!startswith(de->d_name, CDI_FILE_PREFIX) || !endswith(de->d_name, ".json"))
                        continue;
                /* Every spec is rewritten when its leased VF appears: start from none. */
                if (unlinkat(dir_fd, de->d_name, 0) < 0 && errno != ENOENT)
                        log_warning_errno(errno, "Cannot remove stale CDI spec %s/%s: %m", m->cdi_dir,
                                          de->d_name);
        }
        closedir(d);
        return 0;
}
