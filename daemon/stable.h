/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <net/ethernet.h>
#include <stdint.h>

#include "macro.h"

/* Identifiers derived from the machine, the PF and the VF index: identical across reboots
 * and reinstalls of sriovd, distinct per machine. Keyed SipHash-2-4 with the machine-id as
 * key, so that the identifiers don't reveal the machine-id. */

uint64_t siphash24(const void *data, size_t len, const uint8_t key[static 16]);

/* Reads ROOT/etc/machine-id (32 hex digits). */
int machine_key_load(const char *root, uint8_t ret[static 16]);

/* pf_id is the PF's permanent MAC as text, or its PCI address when it has none. The result is
 * unicast and locally administered. */
void stable_vf_mac(const uint8_t key[static 16], const char *pf_id, unsigned vf_index,
                   struct ether_addr *ret);
/* For InfiniBand VFs: node and port GUIDs. */
uint64_t stable_vf_guid(const uint8_t key[static 16], const char *pf_id, unsigned vf_index, bool port);
