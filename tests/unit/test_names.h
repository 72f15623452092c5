/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_names.h: the name pool a unit test file's decoders intern in (include after <cmocka.h>) */
#ifndef IPTRACE_TEST_NAMES_H
#define IPTRACE_TEST_NAMES_H

#include "iptrace/names.h"

/* Made by the group setup, freed by its teardown: the records' names live as long. */
static struct names *test_nm;

static int names_setup(void **state)
{
	(void)state;
	test_nm = names_new();
	return test_nm ? 0 : -1;
}

static int names_teardown(void **state)
{
	(void)state;
	names_free(test_nm);
	return 0;
}

#endif
