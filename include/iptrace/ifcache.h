/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ifcache.h: interface index to name, cached so the hot path makes no syscall per record */
#ifndef IPTRACE_IFCACHE_H
#define IPTRACE_IFCACHE_H

#include <stdint.h>
#include <net/if.h>

#define IFCACHE_SLOTS 64

struct ifcache {
	struct {
		uint32_t	index;
		char		name[IF_NAMESIZE];
	} slot[IFCACHE_SLOTS];
};

/* ifcache_name - the name of @index into @name (IF_NAMESIZE); "" for 0, "if<N>" if gone. */
void ifcache_name(struct ifcache *c, uint32_t index, char *name);

#endif
