/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>

#include "bind.h"
#include "cdi.h"
#include "lease.h"
#include "log.h"
#include "util.h"

static const char *arg_bind_unit = NULL;
static uint32_t arg_bind_pid = 0;
static bool arg_cdi = false;

int bind_parse_unit(const char *arg)
{
        if (!unit_name_is_valid(arg))
                return log_error_errno(EINVAL, "Invalid unit name (want e.g. NAME.service): %s", arg);
        arg_bind_unit = arg;
        return 0;
}

int bind_parse_pid(const char *arg)
{
        uint32_t pid;

        if (safe_atou32(arg, &pid) < 0 || pid <= 1 || pid > INT32_MAX)
                return log_error_errno(EINVAL, "Invalid process id: %s", arg);
        arg_bind_pid = pid;
        return 0;
}

void bind_set_cdi(void)
{
        arg_cdi = true;
}

bool bind_any_set(void)
{
        return arg_bind_unit || arg_bind_pid > 0 || arg_cdi;
}

int bind_append_hints(sd_bus_message *m)
{
        int r = 0;

        if (arg_bind_unit)
                r = sd_bus_message_append(m, "{sv}", "bind_unit", "s", arg_bind_unit);
        if (r >= 0 && arg_bind_pid > 0)
                r = sd_bus_message_append(m, "{sv}", "bind_pid", "u", arg_bind_pid);
        return r;
}

int bind_print_cdi(const char *pci)
{
        char name[64];

        if (!arg_cdi)
                return 0;
        cdi_device_name(pci, name, sizeof(name));
        printf("%s=%s\n", CDI_KIND, name);
        return 1;
}
