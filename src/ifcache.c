/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ifcache.c: a direct-mapped cache of interface names */
#include <stdio.h>
#include <string.h>

#include "iptrace/ifcache.h"

void ifcache_name(struct ifcache *c, uint32_t index, char *name)
{
	unsigned s = index % IFCACHE_SLOTS;

	if (index == 0) {
		name[0] = '\0';
		return;
	}
	if (c->slot[s].index != index) {
		if (!if_indextoname(index, c->slot[s].name))
			snprintf(c->slot[s].name, IF_NAMESIZE, "if%u", index);
		c->slot[s].index = index;
	}
	memcpy(name, c->slot[s].name, IF_NAMESIZE);
}
