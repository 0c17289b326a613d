/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Leases: allocate and release. */

#include <systemd/sd-bus.h>

int verb_allocate(sd_bus *bus, char **args);
int verb_release(sd_bus *bus, char **args);
