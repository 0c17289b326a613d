/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the D-Bus API: every method sriovd exports (org.sriovd1.Manager,
 * org.sriovd1.PhysicalFunction) and the standard Properties/ObjectManager calls that run our
 * getters, with arguments from the fuzzer's bytes, sent as a real sd_bus_message over a
 * socketpair to a server bus that carries the daemon's own vtables (manager_vtable, pf_vtable,
 * vf_vtable, pool_vtable with their find/enumerate callbacks) on a Manager built on the fake
 * model (tests/fake-model.c: temp-dir sysfs, fake rtnetlink kernel). sd-bus dispatches each
 * call exactly as in the daemon: signature check, object lookup, handler. The lease store is a
 * temporary directory (under /dev/shm when it exists), never the real state directory.
 *
 * Input: up to 4 calls, each: a byte picks the call, the next the mode (bit 0: a sequence of arbitrary
 * types instead of the declared signature, so wrong signatures are covered; bit 1: the object is a
 * fuzzed path instead of an existing one; bit 2: allow interactive authorization; bit 3:
 * sent by a unique name, not known as root, so polkit is asked; bit 4: polkit's answer;
 * bits 5-7: which of 8 unique names), the
 * following bytes feed the path and the arguments.
 *
 * Beyond "no crash, no leak, no UB" it checks: every call gets exactly one reply (method
 * return or error), the daemon never leaves a caller waiting; the model and the lease store
 * agree after every call (a VF is Allocated iff the store holds its lease, with that owner);
 * releasing every owner through ReleaseOwner leaves both empty. */

#include <stdint.h>
#include <sys/socket.h>

#include "bus-util.h"
#include "fake-model.h"
#include "lease.h"
#include "log.h"
#include "pool.h"
#include "reconcile.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(expr)                                                       \
        do {                                                              \
                if (!(expr)) {                                            \
                        fprintf(stderr, "invariant failed: %s\n", #expr); \
                        abort();                                          \
                }                                                         \
        } while (0)

#define CONFIG                                                                                            \
        "physical_functions = (\n"                                                                        \
        "  { match = { interface = \"ens1f0\"; }; num_vfs = 4;\n"                                         \
        "    vfs = ( { range = \"0-1\"; pool = \"vm\"; }, { range = \"2-3\"; pool = \"train\"; } ); },\n" \
        "  { match = { pci = \"0000:82:00.0\"; }; num_vfs = 2;\n"                                         \
        "    vfs = ( { range = \"0-1\"; pool = \"vm\"; vlan = 7; } ); } );\n"

typedef struct Env {
        FakeModel *fm;
        sd_bus *server, *client;
        char *state_dir;
        char **vf_paths, **pf_paths;
        size_t n_vfs, n_pfs;
} Env;

static Env env;

/* The client side plays polkit for the daemon's CheckAuthorization calls. */
static bool polkit_authorizes;
static unsigned polkit_checks;

static int polkit_check(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        polkit_checks++;
        return sd_bus_reply_method_return(m, "(bba{ss})", polkit_authorizes, false, 0);
}

static const sd_bus_vtable polkit_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("CheckAuthorization", "(sa{sv})sa{ss}us", "(bba{ss})", polkit_check, 0),
        SD_BUS_VTABLE_END,
};

static void env_cleanup(void)
{
        /* The lease directory is ours; the model's temp dir goes with the model. */
        if (env.state_dir) {
                _cleanup_free_ char *cmd = NULL;

                if (asprintf(&cmd, "rm -rf '%s'", env.state_dir) >= 0)
                        (void) !system(cmd);
        }
        sd_bus_flush_close_unref(env.client);
        sd_bus_unref(env.server);
        fake_model_free(env.fm); /* frees the Manager and its reference to the server bus */
        strv_free(env.vf_paths);
        strv_free(env.pf_paths);
        free(env.state_dir);
}

static void env_add_pf(const char *pci, const char *ifname, int ifindex, unsigned n, int first_ifindex)
{
        PhysicalFunction *pf = fake_model_add_pf(env.fm, pci, ifname, ifindex, 8, n, "igb");

        for (unsigned i = 0; i < n; i++) {
                _cleanup_free_ char *vf_pci = NULL, *vf_if = NULL;

                CHECK(asprintf(&vf_pci, "%.8s%02x.%u", pci, 0x10 + i / 2, i % 2) > 0);
                CHECK(asprintf(&vf_if, "%sv%u", ifname, i) > 0);
                fake_model_add_vf(env.fm, pf, i, vf_pci, vf_if, first_ifindex + (int) i, "igbvf",
                                  40 + ifindex + (int) i);
        }
        pf->job_running = false;
        fake_model_reconcile(env.fm, pf); /* and the passes its netlink replies queue */
        CHECK(pf->state == PF_STATE_CONFIGURED);
}

static void env_setup(void)
{
        const char *shm = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        PhysicalFunction *pf;
        VirtualFunction *vf;
        int pair[2];
        Manager *m;

        log_set_max_level(LOG_EMERG); /* refused calls are the normal case here */
        CHECK(fake_model_new(CONFIG, &env.fm) == 0);
        m = env.fm->m;

        /* Reload and Plan read <root>/etc/sriov.d: the model's temp dir, never the host's. */
        fake_model_write(env.fm, "etc/sriov.d/50-test.conf", CONFIG);
        free(m->root);
        m->root = strdup(env.fm->root);
        CHECK(m->root);
        CHECK(asprintf(&env.state_dir, "%s/sriovd-fuzz-state-XXXXXX", shm) > 0);
        CHECK(mkdtemp(env.state_dir));
        CHECK(lease_store_open(env.state_dir, &m->leases) == 0);

        env_add_pf("0000:81:00.0", "ens1f0", 10, 4, 20);
        env_add_pf("0000:82:00.0", "ens2f0", 11, 2, 30);
        pools_sync(m);

        /* A peer-to-peer connection: the server side is the daemon's bus with its exports. */
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) == 0);
        CHECK(sd_bus_new(&env.server) >= 0);
        CHECK(sd_bus_set_fd(env.server, pair[0], pair[0]) >= 0);
        CHECK(sd_bus_set_server(
                      env.server, 1,
                      SD_ID128_MAKE(5f, 11, d0, 5f, 7a, 2c, 4e, 3b, 9d, 01, 6a, 55, c3, 20, 8e, 14)) >= 0);
        CHECK(sd_bus_set_anonymous(env.server, 1) >= 0);
        CHECK(sd_bus_start(env.server) >= 0);
        CHECK(sd_bus_new(&env.client) >= 0);
        CHECK(sd_bus_set_fd(env.client, pair[1], pair[1]) >= 0);
        CHECK(sd_bus_set_anonymous(env.client, 1) >= 0);
        CHECK(sd_bus_start(env.client) >= 0);
        CHECK(sd_bus_add_object_vtable(env.client, NULL, "/org/freedesktop/PolicyKit1/Authority",
                                       "org.freedesktop.PolicyKit1.Authority", polkit_vtable, NULL) >= 0);
        CHECK(bus_attach(m, env.server) >= 0);

        HASHMAP_FOREACH(pf, m->pfs) {
                CHECK(strv_extend(&env.pf_paths, pf_object_path(pf)) >= 0);
                env.n_pfs++;
                PF_FOREACH_VF(vf, pf) {
                        CHECK(strv_extend(&env.vf_paths, vf_object_path(vf)) >= 0);
                        env.n_vfs++;
                }
        }
        CHECK(env.n_pfs == 2 && env.n_vfs == 6);
        atexit(env_cleanup);
}

/* ---- the input ------------------------------------------------------------------------- */

typedef struct Input {
        const uint8_t *p;
        size_t n;
} Input;

static uint8_t take(Input *in)
{
        if (in->n == 0)
                return 0;
        in->n--;
        return *in->p++;
}

/* A string: a known one (pool, owner, key, path…) or raw bytes from the input, up to 16 KiB
 * (BUS_STRING_MAX and LEASE_OWNER_MAX sit inside that range). NULs end it early. */
static char *take_string(Input *in, const char *const *known, size_t n_known)
{
        uint8_t b = take(in);
        size_t len;
        char *s;

        if (b < 0x40 && n_known > 0)
                return strdup(known[b % n_known]);
        len = b & 0x3f;
        if (b & 0x80)
                len = (len << 8) | take(in);
        len = MIN(len, in->n);
        s = strndup((const char *) in->p, len);
        in->p += len;
        in->n -= len;
        return s;
}

static const char *const pools[] = {"vm", "train"};
/* Pool names, owners, PFs, VFs: what a string argument means depends on the method. */
static const char *const strings[] = {"vm",           "train",           "",     "alice",        "bob",
                                      "ünï",          "carol\n",         "nope", "0000:81:00.0", "ens1f0",
                                      "0000:81:10.1", "libvirt:0e0c1b4a"};
static const char *const hint_keys[] = {"numa_node", "pf", "pci", "bind_to_caller", "allow_degraded", ""};
static const char *const ifaces[] = {SRIOVD_MANAGER_IFACE,
                                     SRIOVD_PF_IFACE,
                                     SRIOVD_VF_IFACE,
                                     SRIOVD_POOL_IFACE,
                                     "org.freedesktop.DBus.Properties",
                                     ""};
static const char *const props[] = {"Allocated",        "Owner",  "State",      "Free",
                                    "VirtualFunctions", "NumVFs", "VFDeviceId", "LastError",
                                    "ConfigErrors",     "Version"};

static int append_string_of(sd_bus_message *msg, char type, Input *in)
{
        _cleanup_free_ char *s = NULL;

        if (type == 'o') {
                if (take(in) & 1) {
                        uint8_t b = take(in);

                        return sd_bus_message_append_basic(msg, 'o',
                                                           (b & 1) ? env.vf_paths[b / 2 % env.n_vfs]
                                                                   : env.pf_paths[b / 2 % env.n_pfs]);
                }
                s = take_string(in, NULL, 0);
                if (!s)
                        return -ENOMEM;
                if (!sd_bus_object_path_is_valid(s))
                        return sd_bus_message_append_basic(msg, 'o',
                                                           SRIOVD_VF_PREFIX "/_30000_3a81_3a00_2e9");
                return sd_bus_message_append_basic(msg, 'o', s);
        }
        s = take_string(in, strings, ELEMENTSOF(strings));
        if (!s)
                return -ENOMEM;
        return sd_bus_message_append_basic(msg, 's', s);
}

/* A variant of a type picked by the input. */
static int append_variant(sd_bus_message *msg, Input *in)
{
        static const char *const strs[] = {"0000:81:00.0", "ens1f0", "0000:82:10.1"};
        _cleanup_free_ char *s = NULL;
        uint8_t t = take(in);
        uint32_t u = (uint32_t) take(in) << 24 | (uint32_t) take(in) | (t & 0x80 ? 0x80000000u : 0);

        switch (t % 6) {
        case 0:
                return sd_bus_message_append(msg, "v", "i", (int32_t) u);
        case 1:
                return sd_bus_message_append(msg, "v", "b", (int) (u & 1));
        case 2:
                s = take_string(in, strs, ELEMENTSOF(strs));
                return s ? sd_bus_message_append(msg, "v", "s", s) : -ENOMEM;
        case 3:
                return sd_bus_message_append(msg, "v", "u", u);
        case 4:
                return sd_bus_message_append(msg, "v", "as", 2, "a", "b");
        default:
                return sd_bus_message_append(msg, "v", "(ii)", (int32_t) u, 1);
        }
}

static int append_hints(sd_bus_message *msg, Input *in)
{
        unsigned n = take(in) % 8;
        int r;

        r = sd_bus_message_open_container(msg, 'a', "{sv}");
        for (unsigned i = 0; r >= 0 && i < n; i++) {
                _cleanup_free_ char *key = take_string(in, hint_keys, ELEMENTSOF(hint_keys));

                if (!key)
                        return -ENOMEM;
                r = sd_bus_message_open_container(msg, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append_basic(msg, 's', key);
                if (r >= 0)
                        r = append_variant(msg, in);
                if (r >= 0)
                        r = sd_bus_message_close_container(msg);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(msg);
        return r;
}

static int append_signature(sd_bus_message *msg, const char *sig, Input *in)
{
        int r = 0;

        for (const char *c = sig; *c && r >= 0;) {
                if (strncmp(c, "a{sv}", 5) == 0) {
                        r = append_hints(msg, in);
                        c += 5;
                        continue;
                }
                r = append_string_of(msg, *c, in);
                c++;
        }
        return r;
}

/* Arguments of arbitrary types: wrong counts, wrong types, extra arguments. */
static int append_any(sd_bus_message *msg, Input *in)
{
        unsigned n = take(in) % 5;
        int r = 0;

        for (unsigned i = 0; r >= 0 && i < n; i++)
                switch (take(in) % 9) {
                case 0:
                        r = append_string_of(msg, 's', in);
                        break;
                case 1:
                        r = append_string_of(msg, 'o', in);
                        break;
                case 2:
                        r = sd_bus_message_append(msg, "u", (uint32_t) take(in));
                        break;
                case 3:
                        r = sd_bus_message_append(msg, "i", -(int32_t) take(in));
                        break;
                case 4:
                        r = sd_bus_message_append(msg, "b", take(in) & 1);
                        break;
                case 5:
                        r = append_hints(msg, in);
                        break;
                case 6:
                        r = append_variant(msg, in);
                        break;
                case 7:
                        r = sd_bus_message_append(msg, "as", 1, "vm");
                        break;
                default:
                        r = sd_bus_message_append(msg, "(ss)", "vm", "alice");
                }
        return r;
}

/* ---- the calls ------------------------------------------------------------------------- */

typedef enum Target {
        T_MANAGER,
        T_PF,
        T_VF,
        T_POOL,
        T_ANY
} Target;

typedef struct Call {
        Target target;
        const char *iface, *member, *signature;
} Call;

static const Call calls[] = {
        {T_MANAGER, SRIOVD_MANAGER_IFACE, "ListPhysicalFunctions", ""},
        {T_MANAGER, SRIOVD_MANAGER_IFACE, "ListVirtualFunctions", "s"},
        {T_MANAGER, SRIOVD_MANAGER_IFACE, "ListPools", ""},
        {T_MANAGER, SRIOVD_MANAGER_IFACE, "Allocate", "ssa{sv}"},
        {T_MANAGER, SRIOVD_MANAGER_IFACE, "Allocate", "ssa{sv}"}, /* twice: it is the one that grows state */
        {T_MANAGER, SRIOVD_MANAGER_IFACE, "Release", "os"},
        {T_MANAGER, SRIOVD_MANAGER_IFACE, "ReleaseOwner", "s"},
        {T_MANAGER, SRIOVD_MANAGER_IFACE, "Reload", ""},
        {T_MANAGER, SRIOVD_MANAGER_IFACE, "Plan", ""},
        {T_MANAGER, SRIOVD_MANAGER_IFACE, "Diagnose", ""},
        {T_PF, SRIOVD_PF_IFACE, "ListVirtualFunctions", ""},
        {T_ANY, "org.freedesktop.DBus.Properties", "GetAll", "s"},
        {T_ANY, "org.freedesktop.DBus.Properties", "Get", "ss"},
        {T_MANAGER, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", ""},
};

static char *pick_path(Target t, bool fuzzed, Input *in)
{
        uint8_t b = take(in);

        if (fuzzed) {
                static const char *const prefixes[] = {SRIOVD_PF_PREFIX, SRIOVD_VF_PREFIX,
                                                       SRIOVD_POOL_PREFIX, SRIOVD_BUS_PATH};
                _cleanup_free_ char *tail = take_string(in, NULL, 0);
                char *esc = NULL;

                if (!tail)
                        return NULL;
                /* Escaped as sd-bus does, so any bytes make a valid path below the prefix. */
                if (sd_bus_path_encode(prefixes[b % 4], tail, &esc) < 0)
                        return NULL;
                return esc;
        }
        switch (t == T_ANY ? (Target) (b % 4) : t) {
        case T_PF:
                return strdup(env.pf_paths[b / 4 % env.n_pfs]);
        case T_VF:
                return strdup(env.vf_paths[b / 4 % env.n_vfs]);
        case T_POOL:
                return pool_bus_path(pools[b / 4 % ELEMENTSOF(pools)]);
        default:
                return strdup(SRIOVD_BUS_PATH);
        }
}

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        unsigned *n = userdata;

        (*n)++;
        /* FUZZ_BUS_VERBOSE=1 with the replay binary shows what each seed reaches. */
        if (getenv("FUZZ_BUS_VERBOSE")) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);

                fprintf(stderr, "  -> %s%s%s\n", e ? e->name : "ok", e ? ": " : "",
                        e ? strempty(e->message) : "");
        }
        return 0;
}

/* Sends msg and pumps both ends until its reply is in. Returns the number of replies. */
static unsigned call_and_wait(sd_bus_message *msg)
{
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        unsigned n_replies = 0;

        CHECK(sd_bus_call_async(env.client, &slot, msg, on_reply, &n_replies, 0) >= 0);
        for (unsigned round = 0; round < 64 && n_replies == 0; round++) {
                bool progress = false;
                int r;

                while ((r = sd_bus_process(env.server, NULL)) > 0)
                        progress = true;
                CHECK(r >= 0);
                while ((r = sd_bus_process(env.client, NULL)) > 0)
                        progress = true;
                CHECK(r >= 0);
                if (!progress)
                        /* Nothing moved: wait for bytes in flight (never longer than 1 s). */
                        (void) sd_bus_wait(env.server, 1000000);
        }
        return n_replies;
}

static void check_model_agrees_with_store(void)
{
        Manager *m = env.fm->m;
        PhysicalFunction *pf;
        VirtualFunction *vf;
        size_t n_allocated = 0;

        HASHMAP_FOREACH(pf, m->pfs)
                PF_FOREACH_VF(vf, pf) {
                        const Lease *l = lease_store_find(m->leases, pf->pci, vf->index);

                        CHECK(vf->allocated == !!l);
                        if (l) {
                                CHECK(streq_ptr(vf->owner, l->owner));
                                n_allocated++;
                        }
                }
        /* Every lease names a VF of the model: nothing on disk that the bus does not show. */
        CHECK(lease_store_size(m->leases) == n_allocated);
}

/* Back to the initial state through the API: ReleaseOwner for every owner that holds a VF. */
static void release_all(void)
{
        Manager *m = env.fm->m;

        for (unsigned guard = 0; lease_store_size(m->leases) > 0; guard++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
                const Lease *l = lease_store_get(m->leases, 0);

                CHECK(guard < 16);
                CHECK(sd_bus_message_new_method_call(env.client, &msg, NULL, SRIOVD_BUS_PATH,
                                                     SRIOVD_MANAGER_IFACE, "ReleaseOwner") >= 0);
                CHECK(sd_bus_message_append(msg, "s", l->owner) >= 0);
                CHECK(call_and_wait(msg) == 1);
        }
        check_model_agrees_with_store();
}

/* One call from the input; false when the input cannot make one. */
static bool one_call(Input *in)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        _cleanup_free_ char *path = NULL;
        const Call *c;
        uint8_t mode;

        c = &calls[take(in) % ELEMENTSOF(calls)];
        mode = take(in);
        path = pick_path(c->target, mode & 2, in);
        if (!path)
                return false;
        if (sd_bus_message_new_method_call(env.client, &msg, NULL, path, c->iface, c->member) < 0)
                return false;
        if (mode & 1) {
                if (append_any(msg, in) < 0)
                        return false; /* not a message sd-bus can build (e.g. invalid UTF-8) */
        } else if (streq(c->member, "GetAll") || streq(c->member, "Get")) {
                _cleanup_free_ char *iface = take_string(in, ifaces, ELEMENTSOF(ifaces));
                _cleanup_free_ char *prop =
                        streq(c->member, "Get") ? take_string(in, props, ELEMENTSOF(props)) : NULL;

                if (!iface || sd_bus_message_append_basic(msg, 's', iface) < 0 ||
                    (streq(c->member, "Get") && (!prop || sd_bus_message_append_basic(msg, 's', prop) < 0)))
                        return false;
        } else if (append_signature(msg, c->signature, in) < 0)
                return false;
        if (mode & 4)
                (void) sd_bus_message_set_allow_interactive_authorization(msg, true);
        /* With a unique name, as the bus daemon stamps it (a peer-to-peer message has none),
         * the caller is not known to be root: the mutating methods ask polkit, whose answer
         * comes from the input, and bind_to_caller leases name the caller. Without one the
         * socket's peer (root) is the caller. */
        if (mode & 8) {
                char sender[16];

                snprintf(sender, sizeof(sender), ":1.%u", 100u + (mode >> 5));
                if (sd_bus_message_set_sender(msg, sender) < 0)
                        return false;
        }
        polkit_authorizes = mode & 16;

        if (getenv("FUZZ_BUS_VERBOSE"))
                fprintf(stderr, "%s %s.%s\n", path, c->iface, c->member);
        /* Exactly one reply, whatever the arguments. */
        CHECK(call_and_wait(msg) == 1);
        check_model_agrees_with_store();
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Input in = {data, size};

        if (!env.fm)
                env_setup();

        /* Up to 4 calls in a row (Allocate, then Release of what it gave…), then back to the
         * initial state so that every input starts from the same model. */
        for (unsigned i = 0; i < 4 && in.n > 0; i++)
                if (!one_call(&in))
                        break;
        release_all();
        return 0;
}
