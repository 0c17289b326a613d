/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Read-only views: list (PFs), vfs, pools, status. */

#include <systemd/sd-bus.h>

int verb_list(sd_bus *bus, char **args);
int verb_vfs(sd_bus *bus, char **args);
int verb_pools(sd_bus *bus, char **args);
int verb_status(sd_bus *bus, char **args);
