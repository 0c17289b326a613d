/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What every sriovctl file shares: the bus names of the API and the parsed command line
 * (defined in sriovctl.c). A new verb goes in its own file with a header declaring its
 * verb_*() function, and one row in sriovctl.c's verbs[] table. */

#include <stdbool.h>
#include <stdint.h>

#define BUS_NAME      "org.sriovd1"
#define ROOT_PATH     "/org/sriovd1"
#define PF_PREFIX     ROOT_PATH "/pf"
#define VF_PREFIX     ROOT_PATH "/vf"
#define POOL_PREFIX   ROOT_PATH "/pool"
#define IFACE_MANAGER "org.sriovd1.Manager"
#define IFACE_PF      "org.sriovd1.PhysicalFunction"
#define IFACE_VF      "org.sriovd1.VirtualFunction"
#define IFACE_POOL    "org.sriovd1.Pool"

#define EXIT_USAGE    2

extern bool arg_json;
extern bool arg_system;
extern bool arg_ask_password;
extern bool arg_all;
extern const char *arg_address;
extern const char *arg_pool;
extern const char *arg_owner;
extern const char *arg_pf;
extern const char *arg_pci;
extern int arg_numa;
extern bool arg_have_numa;
extern uint64_t arg_timeout_usec;
