/* SPDX-License-Identifier: GPL-2.0-or-later */
/* privs.c: capabilities through capget/capset and prctl (no libcap for a few calls) */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#include "iptrace/privs.h"

static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int n = 40;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = 40;
		fclose(f);
	}
	return n;
}

bool privs_have(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return true;	/* can't tell: let the real operation say */
	return d[cap / 32].effective & (1u << (cap % 32));
}

int privs_keep_net(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { { 0 } };
	const unsigned keep = 1u << CAP_NET_ADMIN | 1u << CAP_NET_RAW;	/* both < 32 */
	int last;

	/*
	 * Nothing more than these (a unit's CapabilityBoundingSet= saw to it): nothing to give
	 * up, and no capset(2) to call where a seccomp filter refuses it (systemd's
	 * SystemCallFilter=~@privileged).
	 */
	if (syscall(SYS_capget, &h, d) == 0 && !(d[0].effective & ~keep) &&
	    !(d[0].permitted & ~keep) && !d[0].inheritable && !d[1].effective &&
	    !d[1].permitted && !d[1].inheritable)
		return 0;	/* (no inheritable capability: no ambient one either) */
	memset(d, 0, sizeof(d));
	last = last_cap();

	/* The bounding set first: dropping from it needs CAP_SETPCAP, which goes next. */
	if (privs_have(CAP_SETPCAP)) {
		for (int cap = 0; cap <= last; cap++) {
			if (cap < 32 && (keep & (1u << cap)))
				continue;
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
				return -errno;
		}
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	d[0].effective = d[0].permitted = keep;
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}
