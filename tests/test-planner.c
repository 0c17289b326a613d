/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The planner (daemon/planner.c): its layout check, its fail-closed count change, and the
 * property the issue asks of it: for random (state, old config, new config) triples on the
 * fake substrate, the list Manager.Plan() returns is the list the next reload executes, in
 * order. The executor reports what it runs through reconcile_set_observer(). */

#include <stdarg.h>

#include "fake-substrate.h"
#include "macro.h"
#include "tests.h"

#include "allocation.h"
#include "bus-util.h"
#include "log.h"
#include "plan.h"
#include "planner.h"
#include "reconcile.h"
#include "util.h"

#define SEC 1000000ULL

/* ---- the layout against the device (was config.c's unused pf_config_check_device) ---------- */

static ConfigSet *parse(const char *text)
{
        ConfigSet *set = calloc(1, sizeof(ConfigSet));

        ASSERT_TRUE(set);
        ASSERT_OK(config_set_add_buffer(set, "/etc/sriov.d/p.conf", text, strlen(text)));
        ASSERT_EQ(strv_length(set->errors), 0);
        return set;
}

TEST(layout_against_device)
{
        _cleanup_(config_set_freep) ConfigSet *max =
                parse("physical_functions = ( { match = { pci = \"*\"; }; num_vfs = \"max\";\n"
                      "  vfs = ( { range = \"0-3\"; }, { range = \"100-200\"; } ); } );\n");
        _cleanup_(config_set_freep) ConfigSet *num =
                parse("physical_functions = ( { match = { pci = \"*\"; }; num_vfs = 16; } );\n");
        char *msg = NULL;

        ASSERT_ERROR(planner_check_layout(&max->pfs[0], 64, &msg), ERANGE);
        ASSERT_STREQ(msg, "range 100-200 (/etc/sriov.d/p.conf:2) is beyond the 64 VFs of this PF");
        msg = mfree(msg);
        ASSERT_OK(planner_check_layout(&max->pfs[0], 201, &msg));
        ASSERT_TRUE(msg == NULL);
        /* "max" on a device that does not say its maximum: nothing to resolve it to. */
        ASSERT_ERROR(planner_check_layout(&max->pfs[0], 0, &msg), ERANGE);
        ASSERT_TRUE(strstr(msg, "does not report sriov_totalvfs"));
        msg = mfree(msg);

        ASSERT_ERROR(planner_check_layout(&num->pfs[0], 8, &msg), ERANGE);
        ASSERT_STREQ(msg, "num_vfs = 16 (/etc/sriov.d/p.conf:1) exceeds sriov_totalvfs = 8: raise the VF "
                          "limit in firmware");
        msg = mfree(msg);
        ASSERT_OK(planner_check_layout(&num->pfs[0], 16, &msg));
        /* sriov_totalvfs not reported (netdevsim): the kernel's answer to the write decides. */
        ASSERT_OK(planner_check_layout(&num->pfs[0], 0, &msg));
}

/* ---- the oracles decide, the planner fails closed --------------------------------------------- */

typedef struct Oracle {
        int in_use; /* VF index reported in use, -1: none */
        unsigned asked;
} Oracle;

static bool fake_in_use(const VirtualFunction *vf, char **ret_reason, void *userdata)
{
        Oracle *o = userdata;

        o->asked++;
        if ((int) vf->index != o->in_use)
                return false;
        *ret_reason = strdup("cannot tell");
        return true;
}

static bool fake_no_lease(const PhysicalFunction *pf, unsigned below, char **ret_reason, void *userdata)
{
        return false;
}

static FakeSubstrate *setup(const char *conf)
{
        FakeSubstrate *s = NULL;

        ASSERT_OK(fake_substrate_new(&s));
        ASSERT_OK(fake_substrate_add_igb(s, 1, 8, NULL));
        ASSERT_OK(fake_substrate_write_config(s, "50-test.conf", conf));
        ASSERT_OK(fake_substrate_manager(s, NULL));
        ASSERT_OK(manager_start(s->manager));
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
        return s;
}

TEST(count_change_blocked_by_one_vf_in_use)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s =
                setup("physical_functions = ( { match = { pci = \"0000:01:00.*\"; }; num_vfs = 4; } );\n");
        _cleanup_(config_set_freep) ConfigSet *six =
                parse("physical_functions = ( { match = { pci = \"0000:01:00.*\"; }; num_vfs = 6;\n"
                      "  vfs = ( { range = \"0-5\"; vlan = 7; } ); } );\n");
        PhysicalFunction *pf = manager_get_pf(s->manager, "0000:01:00.0");
        Oracle o = {.in_use = 2};
        PlannerInput in = {
                .pf = pf,
                .config = &six->pfs[0],
                .fresh_config = true,
                .has_netlink = true,
                .vf_in_use = fake_in_use,
                .lease_blocks = fake_no_lease,
                .userdata = &o,
        };
        _cleanup_(plan_actions_done) PlanActions p = {};

        ASSERT_TRUE(pf && pf->num_vfs == 4);
        fake_substrate_reset_counts(s);
        ASSERT_OK(planner_plan_pf(&in, &p));
        /* Every VF was asked; only the one in use blocks; nothing after the block. */
        ASSERT_EQ(o.asked, 4);
        ASSERT_EQ(p.n_actions, 1);
        ASSERT_EQ(p.actions[0].type, PLAN_BLOCKED);
        ASSERT_EQ(p.actions[0].vf, 2);
        ASSERT_EQ(p.actions[0].from, 4);
        ASSERT_EQ(p.actions[0].to, 6);
        ASSERT_STREQ(p.actions[0].reason, "cannot tell");
        plan_actions_done(&p);

        /* Nothing in use: the count change, every VF destroyed, and nothing planned beyond. */
        o = (Oracle){.in_use = -1};
        ASSERT_OK(planner_plan_pf(&in, &p));
        ASSERT_EQ(p.n_actions, 5);
        ASSERT_EQ(p.actions[0].type, PLAN_SET_NUM_VFS);
        for (unsigned i = 1; i < 5; i++)
                ASSERT_TRUE(p.actions[i].type == PLAN_DESTROY_VF && p.actions[i].vf == (int) i - 1);
        /* Planning wrote nothing. */
        ASSERT_EQ(fake_substrate_numvfs_writes(s), 0);
        ASSERT_EQ(pf->num_vfs, 4);
}

/* ---- the property: Plan() == what the next reload executes ------------------------------------ */

#define N_PFS 2

typedef struct Rows {
        char **rows; /* "OBJECT ACTION REASON" */
        size_t n;
} Rows;

typedef struct Record {
        FakeSubstrate *s;
        Rows executed[N_PFS];
} Record;

static int pf_slot(const char *pci)
{
        return streq(pci, "0000:01:00.0") ? 0 : streq(pci, "0000:02:00.0") ? 1 : -1;
}

_printf_(2, 3) static void rows_add(Rows *r, const char *fmt, ...)
{
        va_list ap;
        char *row;

        va_start(ap, fmt);
        ASSERT_TRUE(vasprintf(&row, fmt, ap) >= 0);
        va_end(ap);
        r->rows = realloc(r->rows, sizeof(char *) * (r->n + 1));
        ASSERT_TRUE(r->rows);
        r->rows[r->n++] = row;
}

static void rows_clear(Rows *r)
{
        for (size_t i = 0; i < r->n; i++)
                free(r->rows[i]);
        r->rows = mfree(r->rows);
        r->n = 0;
}

/* What the executor runs, shown as Plan() shows it. */
static void on_executed(PhysicalFunction *pf, const PlanAction *a, void *userdata)
{
        Record *rec = userdata;
        int slot = pf_slot(pf->pci);

        ASSERT_TRUE(slot >= 0);
        for (size_t k = 0; k < plan_action_n_rows(a); k++) {
                _cleanup_free_ char *reason = NULL, *path = NULL;
                int index = plan_action_vf(a, k);
                VirtualFunction *vf =
                        index >= 0 && (unsigned) index < pf->n_vf_slots ? pf->vfs[index] : NULL;

                ASSERT_OK(plan_action_reason(a, k, &reason));
                path = vf ? vf_bus_path(vf) : pf_bus_path(pf);
                ASSERT_TRUE(path);
                /* A blocker is a state, not a step: every pass of the reload (the one after our
                 * own SETLINK's echo too) finds it again, and Plan lists it once. */
                if (a->type == PLAN_BLOCKED || a->type == PLAN_BIND_BLOCKED) {
                        _cleanup_free_ char *row = NULL;
                        bool seen = false;

                        ASSERT_TRUE(asprintf(&row, "%s %s %s", path, plan_action_type_to_string(a->type),
                                             reason) >= 0);
                        for (size_t i = 0; i < rec->executed[slot].n && !seen; i++)
                                seen = streq(rec->executed[slot].rows[i], row);
                        if (seen)
                                continue;
                }
                rows_add(&rec->executed[slot], "%s %s %s", path, plan_action_type_to_string(a->type),
                         reason);
        }
}

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
        /* xorshift64*: reproducible from the seed printed at the start */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (unsigned) ((rng_state * 2685821657736338717ULL) >> 33) % n;
}

static void append(char **buf, const char *fmt, ...) _printf_(2, 3);
static void append(char **buf, const char *fmt, ...)
{
        _cleanup_free_ char *more = NULL;
        va_list ap;
        char *joined;

        va_start(ap, fmt);
        ASSERT_TRUE(vasprintf(&more, fmt, ap) >= 0);
        va_end(ap);
        ASSERT_TRUE(asprintf(&joined, "%s%s", strempty(*buf), more) >= 0);
        free(*buf);
        *buf = joined;
}

/* A random declaration of the two PFs, over every key the planner reads. */
static char *random_config(void)
{
        static const char *const drivers[] = {NULL, NULL, NULL, NULL,    NULL,
                                              NULL, NULL, NULL, "igbvf", "vfio-pci"};
        static const char *const link_states[] = {"auto", "enable", "disable"};
        char *c = NULL;
        unsigned n_pfs = 0;

        append(&c, "physical_functions = (\n");
        for (unsigned p = 0; p < N_PFS; p++) {
                static unsigned last_num[N_PFS] = {3, 3};
                /* The count changes one time in eight: most reloads reconfigure what exists. */
                unsigned num = rnd(8) > 0 ? last_num[p] : rnd(10) == 0 ? 0 : 1 + rnd(6), first = 0, n_vfs;
                bool max = rnd(25) == 0;

                last_num[p] = num;

                if (rnd(10) == 0)
                        continue; /* this PF loses its declaration: unmanaged */
                append(&c, "%s  { match = { pci = \"0000:%02u:00.0\"; };", n_pfs++ > 0 ? ",\n" : "", p + 1);
                if (max) {
                        append(&c, " num_vfs = \"max\";");
                        num = 8;
                } else if (rnd(40) == 0)
                        append(&c, " num_vfs = 9;"); /* more than the device has: invalid */
                else
                        append(&c, " num_vfs = %u;", num);
                if (rnd(4) == 0)
                        append(&c, " mtu = %u;", rnd(2) ? 1500 : 9000);
                if (rnd(4) == 0)
                        append(&c, " drivers_autoprobe = %s;", rnd(2) ? "true" : "false");
                if (num == 0 || rnd(6) == 0) {
                        append(&c, " }");
                        continue;
                }
                append(&c, "\n    vfs = (");
                n_vfs = 0;
                while (first < num) {
                        unsigned last = first + rnd(num - first);
                        const char *driver = drivers[rnd(ELEMENTSOF(drivers))];

                        if (rnd(5) == 0) { /* a gap: VFs in no range */
                                first = last + 1;
                                continue;
                        }
                        append(&c, "%s\n      { range = \"%u-%u\"; pool = \"p%u\";", n_vfs++ > 0 ? "," : "",
                               first, last, rnd(3));
                        if (rnd(2)) {
                                append(&c, " vlan = %u;", 10 + rnd(3) * 10);
                                if (rnd(3) == 0)
                                        append(&c, " qos = %u;", rnd(3));
                        }
                        if (rnd(3) == 0)
                                append(&c, " trust = %s;", rnd(2) ? "true" : "false");
                        if (rnd(3) == 0)
                                append(&c, " spoofchk = %s;", rnd(2) ? "true" : "false");
                        if (rnd(3) == 0)
                                append(&c, " mac = \"stable\";");
                        if (rnd(4) == 0)
                                append(&c, " link_state = \"%s\";", link_states[rnd(3)]);
                        if (rnd(4) == 0)
                                append(&c, " max_tx_rate = %u;", rnd(3) * 100);
                        if (rnd(8) == 0)
                                append(&c, " min_tx_rate = %u;", rnd(2) * 10);
                        if (rnd(4) == 0)
                                append(&c, " query_rss = %s;", rnd(2) ? "true" : "false");
                        if (rnd(4) == 0)
                                append(&c, " mtu = %u;", rnd(2) ? 1500 : 9000);
                        if (driver)
                                append(&c, " driver = \"%s\";", driver);
                        append(&c, " }");
                        first = last + 1;
                }
                append(&c, " ); }");
        }
        append(&c, "\n);\n");
        return c;
}

/* The state between two configs: some leases taken, some given back. */
static void random_leases(FakeSubstrate *s)
{
        PhysicalFunction *pf;
        VirtualFunction *vf;
        char owner[32];

        HASHMAP_FOREACH(pf, s->manager->pfs)
                PF_FOREACH_VF(vf, pf) {
                        if (vf->allocated && rnd(3) == 0)
                                ASSERT_OK(manager_release_vf(s->manager, vf));
                }
        for (unsigned i = rnd(3); i > 0; i--) {
                AllocateHints h = {.numa_node = -1};
                VirtualFunction *got = NULL;
                char pool[8];

                snprintf(pool, sizeof(pool), "p%u", rnd(3));
                snprintf(owner, sizeof(owner), "job-%u", rnd(1000));
                (void) manager_allocate(s->manager, pool, owner, &h, NULL, &got); /* may find none free */
        }
}

/* Takes path. */
static bool path_is(const char *object, char *path)
{
        bool same;

        ASSERT_TRUE(path);
        same = streq(object, path);
        free(path);
        return same;
}

static bool rows_ends_in_async_step(const Rows *r)
{
        for (size_t i = r->n; i > 0; i--) {
                /* The VFs a count change destroys, and the binds that wait for a release, are
                 * listed with the step; what runs next is planned in the pass after it. */
                if (strstr(r->rows[i - 1], " destroy-vf ") || strstr(r->rows[i - 1], " blocked "))
                        continue;
                return strstr(r->rows[i - 1], " set-num-vfs ") || strstr(r->rows[i - 1], " bind-driver ");
        }
        return false;
}

static void dump(const char *what, const Rows *r)
{
        fprintf(stderr, "  %s (%zu):\n", what, r->n);
        for (size_t i = 0; i < r->n; i++)
                fprintf(stderr, "    %s\n", r->rows[i]);
}

TEST(plan_is_what_the_reload_executes)
{
        _cleanup_(fake_substrate_freep) FakeSubstrate *s = NULL;
        const char *env_n = getenv("SRIOVD_PLANNER_ITERATIONS"), *env_seed = getenv("SRIOVD_PLANNER_SEED");
        unsigned n = env_n ? (unsigned) atoi(env_n) : 1000, compared = 0, prefix = 0, nonempty = 0;
        Record rec = {};

        rng_state = env_seed ? strtoull(env_seed, NULL, 0) : 0x5eed12ULL;
        fprintf(stderr, "seed 0x%llx, %u iterations\n", (unsigned long long) rng_state, n);
        ASSERT_OK(fake_substrate_new(&s));
        rec.s = s;
        ASSERT_OK(fake_substrate_add_igb(s, 1, 8, NULL));
        ASSERT_OK(fake_substrate_add_igb(s, 2, 8, NULL));
        /* The second PF refuses some settings (min_tx_rate, query_rss), as igb does. */
        ASSERT_OK(
                fake_netlink_set_quirks(s->netlink, 102, FAKE_QUIRK_NO_MIN_RATE | FAKE_QUIRK_NO_RSS_QUERY));
        ASSERT_OK(fake_substrate_write_config(s, "50-test.conf", "physical_functions = ( );\n"));
        ASSERT_OK(fake_substrate_manager(s, NULL));
        ASSERT_OK(manager_start(s->manager));
        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);

        for (unsigned it = 0; it < n; it++) {
                _cleanup_free_ char *conf = random_config();
                _cleanup_(plan_freep) Plan *plan = NULL;
                Rows planned[N_PFS] = {};

                if (it > 0 && rnd(3) == 0) {
                        random_leases(s);
                        ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
                }
                ASSERT_OK(fake_substrate_write_config(s, "50-test.conf", conf));
                ASSERT_OK(manager_plan(s->manager, &plan));
                for (size_t i = 0; i < plan->n_items; i++) {
                        const PlanItem *item = &plan->items[i];
                        _cleanup_free_ char *object = plan_item_bus_path(item);
                        int slot = -1;

                        if (streq(item->action, "config-error"))
                                fprintf(stderr, "%s\n%s\n", item->reason, conf);
                        ASSERT_TRUE(!streq(item->action, "config-error"));
                        if (streq(item->action, "set-pool"))
                                continue; /* the reload's assignment does it, before any pass */
                        /* Which PF the row is about: the PF's object or one of its VFs'. */
                        for (unsigned p = 0; p < N_PFS && slot < 0; p++) {
                                char pci[16];
                                PhysicalFunction *pf;
                                VirtualFunction *vf;

                                snprintf(pci, sizeof(pci), "0000:%02u:00.0", p + 1);
                                pf = manager_get_pf(s->manager, pci);
                                ASSERT_TRUE(pf);
                                if (path_is(object, pf_bus_path(pf)))
                                        slot = (int) p;
                                PF_FOREACH_VF(vf, pf)
                                        if (path_is(object, vf_bus_path(vf)))
                                                slot = (int) p;
                        }
                        ASSERT_TRUE(slot >= 0);
                        rows_add(&planned[slot], "%s %s %s", object, item->action, item->reason);
                }

                reconcile_set_observer(on_executed, &rec);
                ASSERT_OK(manager_reload(s->manager));
                ASSERT_EQ(fake_substrate_settle(s, 20 * SEC), 1);
                reconcile_set_observer(NULL, NULL);

                for (unsigned p = 0; p < N_PFS; p++) {
                        Rows *want = &planned[p], *got = &rec.executed[p];
                        /* After a count change the new VFs start from the kernel's defaults, after
                         * a rebind from what the VF driver's probe left: what follows is planned
                         * (and compared) in the pass after, not before. */
                        bool count = rows_ends_in_async_step(want);
                        bool same = count ? got->n >= want->n : got->n == want->n;

                        for (size_t i = 0; same && i < want->n; i++)
                                same = streq(want->rows[i], got->rows[i]);
                        if (!same) {
                                fprintf(stderr, "iteration %u, PF %u: Plan and the reload differ\n%s", it, p,
                                        conf);
                                dump("planned", want);
                                dump("executed", got);
                        }
                        ASSERT_TRUE(same);
                        compared++;
                        prefix += count;
                        nonempty += want->n > 0;
                        rows_clear(want);
                        rows_clear(got);
                }
        }
        fprintf(stderr,
                "%u PF plans compared: %u non-empty, of which %u equal to the whole reload and %u to its "
                "actions up to a count change or rebind\n",
                compared, nonempty, nonempty - prefix, prefix);
        /* The generator reaches both kinds, or the test says nothing. */
        ASSERT_TRUE(n < 50 || (nonempty - prefix > compared / 4 && prefix > 0));
}

int main(void)
{
        log_set_max_level(LOG_NOTICE);
        RUN(layout_against_device);
        RUN(count_change_blocked_by_one_vf_in_use);
        RUN(plan_is_what_the_reload_executes);
        return 0;
}
