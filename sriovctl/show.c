/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Read-only views: list (PFs), vfs, pools, status. All from one GetManagedObjects call. */

#include <inttypes.h>
#include <systemd/sd-bus.h>

#include "client.h"
#include "log.h"
#include "objects.h"
#include "output.h"
#include "show.h"
#include "sriovctl.h"
#include "util.h"

static int print_pf_table(const ObjectSet *s, bool footer)
{
        _cleanup_(table_freep) Table *t = NULL;
        int r;

        r = table_new(&t, (const char *const[]){"PCI", "INTERFACE", "DRIVER", "VFS", "NUMA", "STATE",
                                                "CONFIG", NULL});
        if (r < 0)
                return log_oom();
        for (size_t i = 0; i < s->n_objects; i++) {
                const Object *o = &s->objects[i];
                char vfs[80], numa[24];
                const char *cf = object_str(o, "ConfigFile");

                if (!streq(o->iface, IFACE_PF))
                        continue;
                snprintf(vfs, sizeof(vfs), "%" PRIu64 "/%" PRIu64, object_uint(o, "NumVFs"),
                         object_uint(o, "TotalVFs"));
                if (object_uint(o, "NumVFs") != object_uint(o, "DesiredNumVFs") &&
                    !streq(object_str(o, "State"), "unmanaged"))
                        snprintf(vfs, sizeof(vfs), "%" PRIu64 "/%" PRIu64 "→%" PRIu64,
                                 object_uint(o, "NumVFs"), object_uint(o, "TotalVFs"),
                                 object_uint(o, "DesiredNumVFs"));
                if (object_int(o, "NUMANode", -1) >= 0)
                        snprintf(numa, sizeof(numa), "%" PRIi64, object_int(o, "NUMANode", -1));
                else
                        numa[0] = 0;
                r = table_add_row(t, object_str(o, "PCIAddress"), object_str(o, "Interface"),
                                  object_str(o, "Driver"), vfs, numa, object_str(o, "State"),
                                  isempty(cf) ? "" : path_basename(cf));
                if (r < 0)
                        return log_oom();
        }
        if (table_rows(t) > 0)
                table_print(t);
        if (footer)
                printf("%s%zu physical function%s listed.\n", table_rows(t) > 0 ? "\n" : "", table_rows(t),
                       table_rows(t) == 1 ? "" : "s");
        return 0;
}

static bool filter_pool(const Object *o, const void *pool)
{
        return !pool || streq(object_str(o, "Pool"), pool);
}

static bool filter_pf(const Object *o, const void *pf_path)
{
        return streq(object_str(o, "PhysicalFunction"), pf_path);
}

static int print_vf_table(const ObjectSet *s, bool (*filter)(const Object *, const void *),
                          const void *userdata)
{
        _cleanup_(table_freep) Table *t = NULL;
        size_t n_allocated = 0;
        int r;

        r = table_new(&t, (const char *const[]){"PCI", "PF", "IDX", "INTERFACE", "DRIVER", "POOL", "STATE",
                                                "OWNER", NULL});
        if (r < 0)
                return log_oom();
        for (size_t i = 0; i < s->n_objects; i++) {
                const Object *o = &s->objects[i];
                char idx[24];

                if (!streq(o->iface, IFACE_VF) || (filter && !filter(o, userdata)))
                        continue;
                snprintf(idx, sizeof(idx), "%" PRIu64, object_uint(o, "Index"));
                if (object_bool(o, "Allocated"))
                        n_allocated++;
                r = table_add_row(t, object_str(o, "PCIAddress"), object_pf_pci(s, o), idx,
                                  object_str(o, "Interface"), object_str(o, "Driver"), object_str(o, "Pool"),
                                  object_str(o, "State"),
                                  object_bool(o, "Allocated") ? object_str(o, "Owner") : "");
                if (r < 0)
                        return log_oom();
        }
        if (table_rows(t) > 0)
                table_print(t);
        printf("%s%zu virtual function%s listed, %zu allocated.\n", table_rows(t) > 0 ? "\n" : "",
               table_rows(t), table_rows(t) == 1 ? "" : "s", n_allocated);
        return 0;
}

int verb_list(sd_bus *bus, char **args)
{
        _cleanup_(object_set_freep) ObjectSet *s = NULL;
        int r;

        r = fetch_all(bus, &s);
        if (r < 0)
                return r;
        if (arg_json) {
                json_objects(s, IFACE_PF, NULL, NULL);
                putchar('\n');
                return 0;
        }
        return print_pf_table(s, true);
}

int verb_vfs(sd_bus *bus, char **args)
{
        _cleanup_(object_set_freep) ObjectSet *s = NULL;
        int r;

        r = fetch_all(bus, &s);
        if (r < 0)
                return r;
        if (arg_pool) {
                bool found = false;
                for (size_t i = 0; i < s->n_objects; i++)
                        if (streq(s->objects[i].iface, IFACE_POOL) &&
                            streq(object_str(&s->objects[i], "Name"), arg_pool))
                                found = true;
                if (!found)
                        return log_error_errno(ENOENT, "No such pool: %s", arg_pool);
        }
        if (arg_json) {
                json_objects(s, IFACE_VF, filter_pool, arg_pool);
                putchar('\n');
                return 0;
        }
        return print_vf_table(s, filter_pool, arg_pool);
}

int verb_pools(sd_bus *bus, char **args)
{
        _cleanup_(object_set_freep) ObjectSet *s = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        int r;

        r = fetch_all(bus, &s);
        if (r < 0)
                return r;
        if (arg_json) {
                json_objects(s, IFACE_POOL, NULL, NULL);
                putchar('\n');
                return 0;
        }
        r = table_new(&t, (const char *const[]){"POOL", "TOTAL", "FREE", "ALLOCATED", NULL});
        if (r < 0)
                return log_oom();
        for (size_t i = 0; i < s->n_objects; i++) {
                const Object *o = &s->objects[i];
                char total[24], free_[24], alloc[24];
                uint64_t tot = object_uint(o, "Total"), fr = object_uint(o, "Free");

                if (!streq(o->iface, IFACE_POOL))
                        continue;
                snprintf(total, sizeof(total), "%" PRIu64, tot);
                snprintf(free_, sizeof(free_), "%" PRIu64, fr);
                /* Free counts free *healthy* VFs, so Total - Free also counts broken ones;
                 * count the leases instead. */
                size_t n_alloc = 0;
                for (size_t j = 0; j < s->n_objects; j++)
                        if (streq(s->objects[j].iface, IFACE_VF) &&
                            streq(object_str(&s->objects[j], "Pool"), object_str(o, "Name")) &&
                            object_bool(&s->objects[j], "Allocated"))
                                n_alloc++;
                snprintf(alloc, sizeof(alloc), "%zu", n_alloc);
                r = table_add_row(t, object_str(o, "Name"), total, free_, alloc);
                if (r < 0)
                        return log_oom();
        }
        if (table_rows(t) > 0)
                table_print(t);
        printf("%s%zu pool%s listed.\n", table_rows(t) > 0 ? "\n" : "", table_rows(t),
               table_rows(t) == 1 ? "" : "s");
        return 0;
}

static int status_pf(const ObjectSet *s, const Object *pf)
{
        char buf[512];
        const char *ifname = object_str(pf, "Interface");
        const Prop *speed = object_prop(pf, "LinkSpeed");

        if (arg_json) {
                json_object(pf, true);
                fputs(",\"VirtualFunctions\":", stdout);
                json_objects(s, IFACE_VF, filter_pf, pf->path);
                puts("}");
                return 0;
        }

        printf("● %s%s%s%s\n", object_str(pf, "PCIAddress"), isempty(ifname) ? "" : " (", ifname,
               isempty(ifname) ? "" : ")");
        print_field("State", object_str(pf, "State"));
        snprintf(buf, sizeof(buf), "%s %s (%04" PRIx64 ":%04" PRIx64 ")", object_str(pf, "VendorName"),
                 object_str(pf, "DeviceName"), object_uint(pf, "VendorId"), object_uint(pf, "DeviceId"));
        print_field("Device", buf);
        print_field("Driver", strna(object_str(pf, "Driver")[0] ? object_str(pf, "Driver") : NULL));
        if (object_int(pf, "NUMANode", -1) >= 0) {
                snprintf(buf, sizeof(buf), "%" PRIi64, object_int(pf, "NUMANode", -1));
                print_field("NUMA Node", buf);
        }
        if (speed && object_uint(pf, "LinkSpeed") > 0) {
                snprintf(buf, sizeof(buf), "%" PRIu64 " Mb/s", object_uint(pf, "LinkSpeed"));
                print_field("Link Speed", buf);
        }
        snprintf(buf, sizeof(buf), "%" PRIu64 " of %" PRIu64 " (desired %" PRIu64 ")",
                 object_uint(pf, "NumVFs"), object_uint(pf, "TotalVFs"), object_uint(pf, "DesiredNumVFs"));
        print_field("VFs", buf);
        print_field("Config File",
                    isempty(object_str(pf, "ConfigFile")) ? "none" : object_str(pf, "ConfigFile"));
        if (!isempty(object_str(pf, "LastError")))
                print_field("Last Error", object_str(pf, "LastError"));
        putchar('\n');
        return print_vf_table(s, filter_pf, pf->path);
}

int verb_status(sd_bus *bus, char **args)
{
        _cleanup_(object_set_freep) ObjectSet *s = NULL;
        const Object *mgr;
        int r;

        r = fetch_all(bus, &s);
        if (r < 0)
                return r;

        if (args[0]) {
                const Object *pf = find_pf(s, args[0]);
                if (!pf)
                        return log_error_errno(ENOENT, "No such physical function: %s", args[0]);
                return status_pf(s, pf);
        }

        mgr = object_set_find(s, ROOT_PATH, IFACE_MANAGER);
        if (arg_json) {
                fputs("{\"Manager\":", stdout);
                json_object(mgr, false);
                fputs(",\"PhysicalFunctions\":", stdout);
                json_objects(s, IFACE_PF, NULL, NULL);
                fputs(",\"Pools\":", stdout);
                json_objects(s, IFACE_POOL, NULL, NULL);
                puts("}");
                return 0;
        }

        print_field("State", object_str(mgr, "State"));
        print_field("Version", object_str(mgr, "Version"));
        const Prop *files = object_prop(mgr, "ConfigFiles"), *errors = object_prop(mgr, "ConfigErrors");
        print_field_strv("Config Files", files ? files->strv : NULL);
        print_field_strv("Config Errors", errors ? errors->strv : NULL);
        putchar('\n');
        return print_pf_table(s, true);
}
