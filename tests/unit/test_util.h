/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_util.h: helpers the cmocka unit tests share (include after <cmocka.h>) */
#ifndef IPTRACE_TEST_UTIL_H
#define IPTRACE_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>

/* slurp - the whole of TEST_DATA_DIR/@name, NUL-terminated; the caller frees it. */
static inline char *slurp(const char *name)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
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

#endif
