/* SPDX-License-Identifier: GPL-2.0-or-later */
/* names.c: the name pool: open addressing on FNV-1a, strings in chunked arenas */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "iptrace/names.h"

#define CHUNK_SIZE	(64u << 10)
#define FIRST_SLOTS	256	/* a power of two: a ruleset's names fit without growing */

struct chunk {
	struct chunk	*next;
	size_t		used;
	char		text[];
};

struct slot {
	const char	*s;	/* NULL: empty */
	uint32_t	hash;
	uint32_t	len;
};

struct names {
	struct slot	*slots;
	size_t		mask;	/* slots - 1 */
	size_t		count;
	size_t		bytes;	/* text taken, NULs included */
	struct chunk	*chunks;	/* the newest first: only it has room */
	size_t		chunk_room;	/* its text[] size */
};

struct names *names_new(void)
{
	struct names *nm = calloc(1, sizeof(*nm));

	if (!nm)
		return NULL;
	nm->slots = calloc(FIRST_SLOTS, sizeof(*nm->slots));
	if (!nm->slots) {
		free(nm);
		return NULL;
	}
	nm->mask = FIRST_SLOTS - 1;
	return nm;
}

void names_free(struct names *nm)
{
	if (!nm)
		return;
	while (nm->chunks) {
		struct chunk *c = nm->chunks;

		nm->chunks = c->next;
		free(c);
	}
	free(nm->slots);
	free(nm);
}

static uint32_t fnv1a(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* Double the table: the stored hashes place each name again without reading it. */
static int grow(struct names *nm)
{
	size_t n = (nm->mask + 1) * 2;
	struct slot *t = calloc(n, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i <= nm->mask; i++) {
		size_t j;

		if (!nm->slots[i].s)
			continue;
		for (j = nm->slots[i].hash & (n - 1); t[j].s; j = (j + 1) & (n - 1))
			;
		t[j] = nm->slots[i];
	}
	free(nm->slots);
	nm->slots = t;
	nm->mask = n - 1;
	return 0;
}

/* Room for @n bytes in the newest chunk, or a new chunk (larger for a long string). */
static char *take(struct names *nm, size_t n)
{
	struct chunk *c = nm->chunks;
	char *p;

	if (!c || nm->chunk_room - c->used < n) {
		size_t room = n > CHUNK_SIZE ? n : CHUNK_SIZE;

		c = malloc(sizeof(*c) + room);
		if (!c)
			return NULL;
		c->used = 0;
		c->next = nm->chunks;
		nm->chunks = c;
		nm->chunk_room = room;
	}
	p = c->text + c->used;
	c->used += n;
	return p;
}

const char *names_intern(struct names *nm, const char *s, size_t len)
{
	uint32_t h;
	size_t i;
	char *p;

	if (len == 0)
		return "";
	h = fnv1a(s, len);
	for (i = h & nm->mask; nm->slots[i].s; i = (i + 1) & nm->mask)
		if (nm->slots[i].hash == h && nm->slots[i].len == len &&
		    memcmp(nm->slots[i].s, s, len) == 0)
			return nm->slots[i].s;
	if (nm->count >= NAMES_MAX_COUNT || len >= NAMES_MAX_BYTES - nm->bytes)
		return NULL;
	/* Kept at most half full, so a probe meets an empty slot soon. */
	if ((nm->count + 1) * 2 > nm->mask + 1) {
		if (grow(nm) < 0)
			return NULL;
		for (i = h & nm->mask; nm->slots[i].s; i = (i + 1) & nm->mask)
			;
	}
	p = take(nm, len + 1);
	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	nm->slots[i] = (struct slot){ .s = p, .hash = h, .len = (uint32_t)len };
	nm->count++;
	nm->bytes += len + 1;
	return p;
}
