/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* sriovctl libvirt-network POOL: a libvirt <network> of forward mode 'hostdev' whose
 * interface pool is the sriovd pool's VFs, for `virsh net-define`. */

int verb_libvirt_network(sd_bus *bus, char **args);
