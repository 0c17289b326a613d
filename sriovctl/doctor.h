/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* sriovctl doctor: Manager.Diagnose() as a table (default) or JSON (--json). Exit status is
 * non-zero when a check fails (warnings alone are success). */
int verb_doctor(sd_bus *bus, char **args);
