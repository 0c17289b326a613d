#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 12: query_rss (IFLA_VF_RSS_QUERY_EN), added to sriovd as one row of its VF attribute
# table, on the real kernel. netdevsim implements ndo_set_vf_rss_query_en: the declared VFs
# show "query_rss on" in `ip -d link` and QueryRSS true on D-Bus, the others off/false; Plan
# and a reload turn one off. igb has no such op (-EOPNOTSUPP): its VFs are degraded with the
# reason, and their other settings are applied all the same.
# vm-args: --pfs 1 --hotplug-ports 0
. "$(dirname "$0")/../guest/lib.sh"

udevadm settle --timeout=60
IGB=$(pf_if 0)
ip link set dev "$IGB" up

modprobe netdevsim || die "modprobe netdevsim"
nd=/sys/bus/netdevsim/devices/netdevsim1
echo "1 1" >/sys/bus/netdevsim/new_device
wait_for 10 "netdevsim1 netdev appears" bash -c "ls $nd/net/* >/dev/null 2>&1"
udevadm settle --timeout=30
NS=$(basename "$(ls -d $nd/net/* | head -n1)")
say "netdevsim PF: $NS, igb PF: $IGB"
ip link set dev "$NS" up
echo 8 >/sys/kernel/debug/netdevsim/netdevsim1/max_vfs

conf() { # conf QUERY_RSS_OF_NETDEVSIM_VF0
        cat >/etc/sriov.d/50-query-rss.conf <<CONF
physical_functions = (
  { match = { interface = "$NS"; };
    num_vfs = 8;
    vfs = ( { range = "0"; pool = "rss"; query_rss = $1; },
            { range = "1-5"; pool = "rss"; query_rss = true; vlan = 7; },
            { range = "6-7"; pool = "plain"; } );
  },
  { match = { pci = "$(pf_pci 0)"; };
    num_vfs = 2;
    vfs = ( { range = "0-1"; pool = "igb"; query_rss = true; vlan = 9; } );
  }
);
CONF
}
mkdir -p /etc/sriov.d
conf true
install_sriovd
start_sriovd
check "sriovctl wait-online" sriovctl wait-online --timeout=120

# --- netdevsim: the kernel and the bus agree -----------------------------------------------
# The text of one VF in `ip -d link show`: from its "vf N" line to the next VF's.
vf_text() { ip -d link show dev "$1" | awk -v v="$2" '$1 == "vf" { cur = $2 } cur == v'; }
export -f vf_text
say "ip -d link, $NS vf 0: $(vf_text "$NS" 0)"
for v in 0 1 2 3 4 5; do
        check "ip -d link: $NS vf $v query_rss on" grep -q "query_rss on" <<<"$(vf_text "$NS" $v)"
done
for v in 6 7; do
        check "ip -d link: $NS vf $v query_rss off (not declared)" grep -q "query_rss off" <<<"$(vf_text "$NS" $v)"
done
check_eq "ip -d -j link: VFs with query_rss_en true" 6 \
        "$(ip -d -j link show dev "$NS" | jq '[.[0].vfinfo_list[] | select(.query_rss_en == true)] | length')"
j=$(sriovctl --json vfs --pool rss)
check_eq "D-Bus: 6 VFs in pool rss" 6 "$(jq length <<<"$j")"
check_eq "D-Bus: QueryRSS true on all 6" 6 "$(jq '[.[] | select(.QueryRSS == true)] | length' <<<"$j")"
check_eq "D-Bus: all 6 ready" 6 "$(jq '[.[] | select(.State == "ready")] | length' <<<"$j")"
check_eq "D-Bus: QueryRSS false on the 2 undeclared" 0 \
        "$(sriovctl --json vfs --pool plain | jq '[.[] | select(.QueryRSS != false)] | length')"
vf0=$(jq -r '.[] | select(.Index == 0) | .PCIAddress' <<<"$j")
vf0_path=$(jq -r '.[] | select(.Index == 0) | .ObjectPath' <<<"$j")
check "found the object of $NS VF 0 ($vf0)" [ -n "$vf0_path" ]
check_eq "busctl get-property QueryRSS of VF 0" "b true" \
        "$(busctl get-property org.sriovd1 "$vf0_path" org.sriovd1.VirtualFunction QueryRSS)"

# --- igb: refused, reported, the rest applied ----------------------------------------------
ji=$(sriovctl --json vfs --pool igb)
check_eq "igb: 2 VFs" 2 "$(jq length <<<"$ji")"
check_eq "igb: both degraded" 2 "$(jq '[.[] | select(.State == "degraded")] | length' <<<"$ji")"
say "igb VF 0 LastError: $(jq -r '.[0].LastError' <<<"$ji")"
check_eq "igb: LastError names query_rss and the refusal" 2 \
        "$(jq '[.[] | select(.LastError | test("^query_rss: Operation not supported \\(refused by igb\\)"))] | length' <<<"$ji")"
check_eq "igb: QueryRSS false (igb reports no such setting)" 0 \
        "$(jq '[.[] | select(.QueryRSS != false)] | length' <<<"$ji")"
check_eq "igb: vlan 9 applied on VF 1 all the same" 9 "$(vf_json "$IGB" 1 | jq -r '.vlan_list[0].vlan')"
check "igb: ip -d link shows no query_rss for its VFs" bash -c "! ip -d link show dev $IGB | grep -q query_rss"

# --- Plan words the change from the table; a reload applies it -----------------------------
conf false
plan=$(sriovctl --json plan); say "plan: $plan"
check "plan: configure-vf 'query_rss on -> off' for $NS VF 0" jqe --arg p "$vf0_path" \
        'any(.[]; .Object == $p and .Action == "configure-vf" and .Reason == "query_rss on -> off")' <<<"$plan"
# A reload asks igb again (a new declaration may be supported): Plan says so.
check_eq "plan: the 2 igb VFs are asked again" 2 \
        "$(jq '[.[] | select(.Action == "configure-vf" and .Reason == "query_rss -> on")] | length' <<<"$plan")"
check_eq "plan lists nothing else" 3 "$(jq length <<<"$plan")"
check "systemctl reload sriovd" systemctl reload sriovd.service
wait_for 30 "ip -d link: $NS vf 0 query_rss off" bash -c "vf_text $NS 0 | grep -q 'query_rss off'"
wait_for 10 "D-Bus: QueryRSS of VF 0 false" bash -c \
        "[ \"\$(busctl get-property org.sriovd1 $vf0_path org.sriovd1.VirtualFunction QueryRSS)\" == 'b false' ]"
check "ip -d link: $NS vf 1 still query_rss on" grep -q "query_rss on" <<<"$(vf_text "$NS" 1)"
check "sriovctl wait-online after the reload" sriovctl wait-online --timeout=60
check_eq "igb: both still degraded, refused again" 2 \
        "$(sriovctl --json vfs --pool igb | jq '[.[] | select(.State == "degraded" and (.LastError | test("^query_rss: ")))] | length')"
finish
