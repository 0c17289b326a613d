/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

/* sriovctl allocate --bind-unit=UNIT | --bind-pid=PID | --cdi: what the lease is bound to
 * (the Allocate hints bind_unit and bind_pid), and the CDI device name as the output for
 * container runtimes. */
int bind_parse_unit(const char *arg);
int bind_parse_pid(const char *arg);
void bind_set_cdi(void);
bool bind_any_set(void);
/* Appends the bind hints to an open a{sv} of Allocate. */
int bind_append_hints(sd_bus_message *m);
/* With --cdi: prints "sriovd.io/vf=NAME" for the VF and returns 1; else 0. */
int bind_print_cdi(const char *pci);
