/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* sriovctl gres [NODENAME]: the gres.conf lines (GRES "sriov", one type per pool) of this node's
 * pools, from Manager.ListPools(), so that slurmctld schedules jobs by them. */
int verb_gres(sd_bus *bus, char **args);
