/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Configuration: reload and plan. */

#include <systemd/sd-bus.h>

int verb_reload(sd_bus *bus, char **args);
int verb_plan(sd_bus *bus, char **args);
