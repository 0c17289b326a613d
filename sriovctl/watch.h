/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Event-driven verbs: monitor and wait-online. */

#include <systemd/sd-bus.h>

int verb_monitor(sd_bus *bus, char **args);
int verb_wait_online(sd_bus *bus, char **args);
