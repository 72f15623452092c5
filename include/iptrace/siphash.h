/* SPDX-License-Identifier: GPL-2.0-or-later */
/* siphash.h: SipHash-1-3, a keyed hash for tables whose keys others choose */
#ifndef IPTRACE_SIPHASH_H
#define IPTRACE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* A secret key: without it, no one can make keys collide on purpose. */
struct siphash_key {
	uint64_t	k0, k1;
};

/*
 * siphash_key_random - a fresh key from getrandom(2) (never blocking: before the pool is
 * ready, the clocks and addresses of this run). Once per table, not per hash.
 */
void siphash_key_random(struct siphash_key *key);

/* siphash13 - SipHash-1-3 of @len bytes at @data under @key (the reference's output). */
uint64_t siphash13(const struct siphash_key *key, const void *data, size_t len);

#endif
