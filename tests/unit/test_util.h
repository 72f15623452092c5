/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_util.h: helpers the cmocka unit tests share (include after <cmocka.h>) */
#ifndef IPTRACE_TEST_UTIL_H
#define IPTRACE_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

/* slurp_path - the whole file at @path, NUL-terminated; the caller frees it. */
static inline char *slurp_path(const char *path)
{
	FILE *f;
	char *buf;
	long n;

	f = fopen(path, "re");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* slurp - the whole of TEST_DATA_DIR/@name, NUL-terminated; the caller frees it. */
static inline char *slurp(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
	return slurp_path(path);
}

struct guarded {
	void	*map;
	size_t	size;
};

/*
 * guarded_copy - @len bytes of @src (a multiple of 4: the copy stays 4-byte aligned) copied
 * to end where a readable page ends and a PROT_NONE one begins, so a read past them faults,
 * also in libraries ASan does not instrument. Release with guarded_free().
 */
static inline void *guarded_copy(struct guarded *g, const void *src, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), room = (len + page - 1) / page * page;
	char *p;

	assert_int_equal(len % 4, 0);
	g->size = room + page;
	g->map = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->map != MAP_FAILED);
	p = g->map;
	assert_int_equal(mprotect(p + room, page, PROT_NONE), 0);
	memcpy(p + room - len, src, len);
	return p + room - len;
}

static inline void guarded_free(struct guarded *g)
{
	munmap(g->map, g->size);
}

#endif
