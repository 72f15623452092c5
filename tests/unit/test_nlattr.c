/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_nlattr.c: the attribute-table parser every netlink decoder uses, on crafted messages */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>

#include "iptrace/nlattr.h"
#include "test_util.h"

enum {
	A_U8 = 1, A_U16, A_U32, A_U64, A_STR, A_NEST, A_BIN, A_BIN4, A_UNREAD,
	A_MAX = A_UNREAD,
};

static const struct nlattr_policy pol[A_MAX + 1] = {
	[A_U8]		= { MNL_TYPE_U8 },
	[A_U16]		= { MNL_TYPE_U16 },
	[A_U32]		= { MNL_TYPE_U32 },
	[A_U64]		= { MNL_TYPE_U64 },
	[A_STR]		= { MNL_TYPE_NUL_STRING },
	[A_NEST]	= { MNL_TYPE_NESTED },
	[A_BIN]		= { MNL_TYPE_BINARY },
	[A_BIN4]	= { MNL_TYPE_BINARY, 4 },
};

static struct nlmsghdr *msg(char *buf)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, 512);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NFNL_SUBSYS_CTNETLINK << 8;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg));
	return nlh;
}

static int parse(const struct nlmsghdr *nlh, const struct nlattr **tb)
{
	memset(tb, 0, (A_MAX + 1) * sizeof(*tb));
	return nlattr_parse(nlh, sizeof(struct nfgenmsg), pol, A_MAX, tb);
}

/* Each type well formed goes into the table; unread and unknown types stay out. */
static void test_table(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh = msg(buf);
	const struct nlattr *tb[A_MAX + 1];
	struct nlattr *nest;
	struct guarded g;
	const struct nlmsghdr *copy;

	(void)state;
	mnl_attr_put_u8(nlh, A_U8, 1);
	mnl_attr_put_u16(nlh, A_U16, 2);
	mnl_attr_put_u32(nlh, A_U32, 3);
	mnl_attr_put_u64(nlh, A_U64, 4);
	mnl_attr_put_strz(nlh, A_STR, "five");
	nest = mnl_attr_nest_start(nlh, A_NEST);
	mnl_attr_put_u32(nlh, A_U32, 6);
	mnl_attr_nest_end(nlh, nest);
	mnl_attr_put(nlh, A_BIN, 3, "bin");
	mnl_attr_put(nlh, A_BIN4, 4, "four");
	mnl_attr_put(nlh, A_UNREAD, 3, "odd");		/* no policy: any size, not kept */
	mnl_attr_put(nlh, A_MAX + 1, 1, "x");		/* newer than this build */
	mnl_attr_put(nlh, 0x3fff, 2, "yz");
	/* At the end of a page, before one that faults: nothing is read past the message. */
	copy = guarded_copy(&g, nlh, nlh->nlmsg_len);
	assert_int_equal(parse(copy, tb), 0);
	assert_int_equal(mnl_attr_get_u8(tb[A_U8]), 1);
	assert_int_equal(mnl_attr_get_u16(tb[A_U16]), 2);
	assert_int_equal(mnl_attr_get_u32(tb[A_U32]), 3);
	assert_true(mnl_attr_get_u64(tb[A_U64]) == 4);
	assert_string_equal(mnl_attr_get_str(tb[A_STR]), "five");
	assert_non_null(tb[A_NEST]);
	assert_int_equal(mnl_attr_get_payload_len(tb[A_BIN]), 3);
	assert_memory_equal(mnl_attr_get_payload(tb[A_BIN4]), "four", 4);
	assert_null(tb[A_UNREAD]);
	assert_null(tb[0]);
	guarded_free(&g);
}

/* One byte short or long, a string without its NUL, a nest that holds half a header: refused. */
static void test_bad_sizes(void **state)
{
	static const struct {
		uint16_t	type, size;
	} fixed[] = {
		{ A_U8, 1 }, { A_U16, 2 }, { A_U32, 4 }, { A_U64, 8 }, { A_BIN4, 4 },
	};
	static const char zero[16];
	char buf[512];
	struct nlmsghdr *nlh;
	const struct nlattr *tb[A_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		for (int d = -1; d <= 1; d++) {
			nlh = msg(buf);
			mnl_attr_put(nlh, fixed[i].type, (size_t)(fixed[i].size + d), zero);
			assert_int_equal(parse(nlh, tb), d ? -EINVAL : 0);
		}
	nlh = msg(buf);
	mnl_attr_put(nlh, A_STR, 4, "five");
	assert_int_equal(parse(nlh, tb), -EINVAL);
	nlh = msg(buf);
	mnl_attr_put(nlh, A_STR, 0, NULL);
	assert_int_equal(parse(nlh, tb), -EINVAL);
	nlh = msg(buf);
	mnl_attr_put(nlh, A_NEST, 2, zero);
	assert_int_equal(parse(nlh, tb), -EINVAL);
	nlh = msg(buf);
	mnl_attr_put(nlh, A_NEST, 0, NULL);	/* an empty nest is one */
	mnl_attr_put(nlh, A_BIN, 0, NULL);	/* binary: any size */
	assert_int_equal(parse(nlh, tb), 0);
	assert_non_null(tb[A_NEST]);
	assert_non_null(tb[A_BIN]);
}

/* The last of a repeated type counts; a bad one anywhere refuses the message. */
static void test_repeated(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh = msg(buf);
	const struct nlattr *tb[A_MAX + 1];

	(void)state;
	mnl_attr_put_u32(nlh, A_U32, 1);
	mnl_attr_put_u32(nlh, A_U32, 2);
	assert_int_equal(parse(nlh, tb), 0);
	assert_int_equal(mnl_attr_get_u32(tb[A_U32]), 2);
	nlh = msg(buf);
	mnl_attr_put_u16(nlh, A_U32, 1);
	mnl_attr_put_u32(nlh, A_U32, 2);
	assert_int_equal(parse(nlh, tb), -EINVAL);
}

/*
 * A truncated attribute (beyond the message, or shorter than its header) ends the walk,
 * what came before stays; a message shorter than its headers or of unaligned length is
 * refused (libmnl would walk up to the aligned length, past the message).
 */
static void test_truncated_and_lengths(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh = msg(buf);
	const struct nlattr *tb[A_MAX + 1];
	struct nlattr *a;

	(void)state;
	mnl_attr_put_u32(nlh, A_U32, 1);
	mnl_attr_put(nlh, A_BIN, 12, "twelve bytes");
	nlh->nlmsg_len -= 8;
	assert_int_equal(parse(nlh, tb), 0);
	assert_non_null(tb[A_U32]);
	assert_null(tb[A_BIN]);
	nlh = msg(buf);
	a = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put_u32(nlh, A_U16, 1);
	a->nla_len = 2;
	mnl_attr_put_u32(nlh, A_U32, 1);
	assert_int_equal(parse(nlh, tb), 0);
	assert_null(tb[A_U32]);
	nlh = msg(buf);
	mnl_attr_put_u32(nlh, A_U32, 1);
	nlh->nlmsg_len += 1;
	assert_int_equal(parse(nlh, tb), -EINVAL);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 2;	/* less than the family header */
	assert_int_equal(parse(nlh, tb), -EINVAL);
}

/* A nest's attributes, up to the nest's own end: its siblings are not its. */
static void test_nested(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh = msg(buf);
	const struct nlattr *tb[A_MAX + 1], *in[A_MAX + 1] = { NULL };
	struct nlattr *nest;

	(void)state;
	nest = mnl_attr_nest_start(nlh, A_NEST);
	mnl_attr_put_u32(nlh, A_U32, 7);
	mnl_attr_nest_end(nlh, nest);
	mnl_attr_put_u8(nlh, A_U8, 1);
	assert_int_equal(parse(nlh, tb), 0);
	assert_int_equal(nlattr_parse_nested(tb[A_NEST], pol, A_MAX, in), 0);
	assert_int_equal(mnl_attr_get_u32(in[A_U32]), 7);
	assert_null(in[A_U8]);
	nlh = msg(buf);
	nest = mnl_attr_nest_start(nlh, A_NEST);
	mnl_attr_put_u16(nlh, A_U32, 7);
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(parse(nlh, tb), 0);	/* the nest itself is well formed */
	memset(in, 0, sizeof(in));
	assert_int_equal(nlattr_parse_nested(tb[A_NEST], pol, A_MAX, in), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_repeated),
		cmocka_unit_test(test_truncated_and_lengths),
		cmocka_unit_test(test_nested),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
