/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Talking to sriovd: connecting, fetching the object tree, resolving the names users give, and
 * turning bus errors into one friendly line. */

#include <systemd/sd-bus.h>

#include "objects.h"

/* Logs "Failed to WHAT: friendly text (daemon's message)"; returns a negative errno. */
int log_bus_error(const sd_bus_error *e, int r, const char *what);
/* --address=, $SRIOVD_BUS_ADDRESS or the system bus. */
int bus_connect(sd_bus **ret);
/* Every object (GetManagedObjects) and the Manager's properties, sorted. */
int fetch_all(sd_bus *bus, ObjectSet **ret);
/* The properties of one object on one interface. */
int fetch_object(sd_bus *bus, const char *path, const char *iface, ObjectSet **ret);
/* A PF given as object path, PCI address or interface name. */
const Object *find_pf(const ObjectSet *s, const char *arg);
/* A VF given as object path, PCI address or netdev name -> object path. */
int resolve_vf(sd_bus *bus, const char *arg, char **ret);
