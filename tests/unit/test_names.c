/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_names.c: the name pool: one copy per name, kept until the pool goes, bounded */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "iptrace/names.h"

/* The same bytes give the same pointer; other bytes another; each a NUL-ended copy. */
static void test_same_bytes_same_copy(void **state)
{
	struct names *nm = names_new();
	char buf[] = "filter_IN_policy_allow-host-ipv6_allow";
	const char *a, *b, *c;

	(void)state;
	assert_non_null(nm);
	a = names_intern(nm, buf, strlen(buf));
	assert_non_null(a);
	assert_ptr_not_equal(a, buf);
	assert_string_equal(a, buf);
	/* The copy is the pool's: the caller's bytes may change. */
	buf[0] = 'X';
	assert_string_equal(a, "filter_IN_policy_allow-host-ipv6_allow");
	buf[0] = 'f';
	assert_ptr_equal(names_intern(nm, buf, strlen(buf)), a);
	/* A name that shares the first 31 bytes, or is a prefix: another copy. */
	b = names_intern(nm, "filter_IN_policy_allow-host-ipv6_pre", 36);
	c = names_intern(nm, buf, 31);
	assert_non_null(b);
	assert_non_null(c);
	assert_ptr_not_equal(b, a);
	assert_ptr_not_equal(c, a);
	assert_int_equal(strlen(c), 31);
	assert_string_equal(b, "filter_IN_policy_allow-host-ipv6_pre");
	/* @len bytes, not up to a NUL: what follows is not read, a NUL inside is kept. */
	assert_string_equal(names_intern(nm, "nat:PREROUTING", 3), "nat");
	assert_memory_equal(names_intern(nm, "a\0b", 3), "a\0b", 4);
	assert_ptr_not_equal(names_intern(nm, "a\0b", 3), names_intern(nm, "a", 1));
	assert_string_equal(names_intern(nm, buf, 0), "");
	names_free(nm);
	names_free(NULL);
}

/* Many names: the table grows, the arenas chain, every copy stays where it was. */
static void test_many_names(void **state)
{
	enum { N = 100000 };
	struct names *nm = names_new();
	const char **got = calloc(N, sizeof(*got));
	char big[200000], name[32];

	(void)state;
	assert_non_null(nm);
	assert_non_null(got);
	for (unsigned i = 0; i < N; i++) {
		int n = snprintf(name, sizeof(name), "chain-%u", i);

		got[i] = names_intern(nm, name, (size_t)n);
		assert_non_null(got[i]);
	}
	/* A name longer than an arena takes one of its own. */
	memset(big, 'b', sizeof(big));
	assert_int_equal(strlen(names_intern(nm, big, sizeof(big))), sizeof(big));
	for (unsigned i = 0; i < N; i++) {
		int n = snprintf(name, sizeof(name), "chain-%u", i);

		assert_string_equal(got[i], name);
		assert_ptr_equal(names_intern(nm, name, (size_t)n), got[i]);
	}
	free(got);
	names_free(nm);
}

/* Full: no new name past NAMES_MAX_BYTES of text or NAMES_MAX_COUNT names; known ones still. */
static void test_caps(void **state)
{
	struct names *nm = names_new();
	size_t len = 1u << 20;
	char *s = malloc(len);
	const char *first;
	unsigned taken = 0;

	(void)state;
	assert_non_null(nm);
	assert_non_null(s);
	memset(s, 'x', len);
	first = names_intern(nm, s, len);
	assert_non_null(first);
	for (unsigned i = 1; i < 128; i++) {
		memcpy(s, &i, sizeof(i));
		if (!names_intern(nm, s, len))
			break;
		taken++;
	}
	/* 1 MiB and its NUL each: 63 fit in 64 MiB. */
	assert_int_equal(taken + 1, NAMES_MAX_BYTES / (len + 1));
	memset(s, 'x', sizeof(unsigned));
	assert_ptr_equal(names_intern(nm, s, len), first);
	assert_non_null(names_intern(nm, "", 0));
	names_free(nm);
	free(s);

	nm = names_new();
	assert_non_null(nm);
	for (uint32_t i = 0; i < NAMES_MAX_COUNT; i++)
		assert_non_null(names_intern(nm, (const char *)&i, sizeof(i)));
	{
		uint32_t i = NAMES_MAX_COUNT, old = 7;

		assert_null(names_intern(nm, (const char *)&i, sizeof(i)));
		assert_non_null(names_intern(nm, (const char *)&old, sizeof(old)));
	}
	names_free(nm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_bytes_same_copy),
		cmocka_unit_test(test_many_names),
		cmocka_unit_test(test_caps),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
