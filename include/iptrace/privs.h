/* SPDX-License-Identifier: GPL-2.0-or-later */
/* privs.h: give up every capability the rest of a capture doesn't need */
#ifndef IPTRACE_PRIVS_H
#define IPTRACE_PRIVS_H

#include <stdbool.h>

/*
 * privs_keep_net - after set-up, keep only CAP_NET_ADMIN (rules, netlink, nf_log) and
 * CAP_NET_RAW (libiptc opens a raw socket on every iptc_init, teardown included): in the
 * effective, permitted and bounding sets, none inheritable or ambient, so that no program
 * started later (the resolver's iptables-legacy-save) gets more. Without CAP_SETPCAP the
 * bounding set stays as it is. When nothing else is held already (a unit's
 * CapabilityBoundingSet=), nothing is called. Returns 0 or a negative errno.
 */
int privs_keep_net(void);

/* privs_have - is capability @cap effective? */
bool privs_have(int cap);

#endif
