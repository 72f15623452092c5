/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_nfhook.c: nfnetlink_hook dump messages, built as the kernel lays them out, decoded */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_hook.h>
#include <cmocka.h>

#include "iptrace/grouper.h"
#include "iptrace/nfhook.h"
#include "iptrace/pkt.h"

/*
 * One message of the dump as net/netfilter/nfnetlink_hook.c nfnl_hook_dump_one() builds it:
 * nfgenmsg with the hook's family, NFNLA_HOOK_MODULE_NAME (only for a module),
 * NFNLA_HOOK_FUNCTION_NAME ("%ps" of the hook), NFNLA_HOOK_HOOKNUM and _PRIORITY as be32,
 * then for an nf_tables base chain the NFNLA_HOOK_CHAIN_INFO nest: NFNLA_HOOK_INFO_TYPE
 * (be32) and the NFNLA_HOOK_INFO_DESC nest of NFNLA_CHAIN_TABLE, _NAME and _FAMILY (u8).
 * nla_nest_start() sets NLA_F_NESTED: so do these.
 */
struct chain_desc {
	uint32_t	type;
	uint8_t		family;
	const char	*table, *chain;
};

static struct nlattr *nest_start(struct nlmsghdr *nlh, uint16_t type)
{
	return mnl_attr_nest_start(nlh, type | NLA_F_NESTED);
}

static struct nlmsghdr *hook_msg(char *buf, uint8_t family, const char *module, const char *func,
				 uint32_t hook, int32_t prio, const struct chain_desc *cd)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_HOOK << 8) | NFNL_MSG_HOOK_GET;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = 1;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	if (module)
		mnl_attr_put_strz(nlh, NFNLA_HOOK_MODULE_NAME, module);
	if (func)
		mnl_attr_put_strz(nlh, NFNLA_HOOK_FUNCTION_NAME, func);
	mnl_attr_put_u32(nlh, NFNLA_HOOK_HOOKNUM, htonl(hook));
	mnl_attr_put_u32(nlh, NFNLA_HOOK_PRIORITY, htonl((uint32_t)prio));
	if (cd) {
		struct nlattr *n1 = nest_start(nlh, NFNLA_HOOK_CHAIN_INFO), *n2;

		mnl_attr_put_u32(nlh, NFNLA_HOOK_INFO_TYPE, htonl(cd->type));
		n2 = nest_start(nlh, NFNLA_HOOK_INFO_DESC);
		mnl_attr_put_strz(nlh, NFNLA_CHAIN_TABLE, cd->table);
		mnl_attr_put_strz(nlh, NFNLA_CHAIN_NAME, cd->chain);
		mnl_attr_put_u8(nlh, NFNLA_CHAIN_FAMILY, cd->family);
		mnl_attr_nest_end(nlh, n2);
		mnl_attr_nest_end(nlh, n1);
	}
	return nlh;
}

static void test_decode_nft_chain(void **state)
{
	char buf[512];
	struct chain_desc cd = { NFNL_HOOK_TYPE_NFTABLES, NFPROTO_INET, "lxd", "fwd" };
	struct nfhook_entry e;

	(void)state;
	hook_msg(buf, NFPROTO_IPV4, NULL, "nft_do_chain_inet", NF_INET_FORWARD, 0, &cd);
	assert_int_equal(nfhook_decode((struct nlmsghdr *)buf, &e), 0);
	assert_int_equal(e.family, NFPROTO_IPV4);
	assert_int_equal(e.hooknum, NF_INET_FORWARD);
	assert_int_equal(e.prio, 0);
	assert_string_equal(e.func, "nft_do_chain_inet");
	assert_true(e.nft);
	assert_int_equal(e.chain_family, NFPROTO_INET);
	assert_string_equal(e.table, "lxd");
	assert_string_equal(e.chain, "fwd");
}

static void test_decode_plain_hooks(void **state)
{
	char buf[512];
	struct nfhook_entry e;

	(void)state;
	/* ip_tables' filter table; a negative priority survives the be32. */
	hook_msg(buf, NFPROTO_IPV6, NULL, "ip6t_do_table", NF_INET_LOCAL_IN, -150, NULL);
	assert_int_equal(nfhook_decode((struct nlmsghdr *)buf, &e), 0);
	assert_int_equal(e.family, NFPROTO_IPV6);
	assert_int_equal(e.prio, -150);
	assert_false(e.nft);
	assert_string_equal(e.func, "ip6t_do_table");
	/* A module's hook: its name comes first, the function after. */
	hook_msg(buf, NFPROTO_IPV4, "nf_conntrack", "ipv4_conntrack_in", NF_INET_PRE_ROUTING,
		 -200, NULL);
	assert_int_equal(nfhook_decode((struct nlmsghdr *)buf, &e), 0);
	assert_string_equal(e.func, "ipv4_conntrack_in");
	/* No kallsyms: no function name at all. */
	hook_msg(buf, NFPROTO_IPV4, NULL, NULL, NF_INET_PRE_ROUTING, -200, NULL);
	assert_int_equal(nfhook_decode((struct nlmsghdr *)buf, &e), 0);
	assert_string_equal(e.func, "");
	/* A chain info of another type (a BPF program on newer kernels): not an nft chain. */
	struct chain_desc bpf = { 2, NFPROTO_IPV4, "x", "y" };

	hook_msg(buf, NFPROTO_IPV4, NULL, "bpf_prog", NF_INET_PRE_ROUTING, 0, &bpf);
	assert_int_equal(nfhook_decode((struct nlmsghdr *)buf, &e), 0);
	assert_false(e.nft);
}

static void test_decode_rejects(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh;
	struct nfhook_entry e;
	struct chain_desc cd = { NFNL_HOOK_TYPE_NFTABLES, NFPROTO_INET, "t", "c" };

	(void)state;
	/* Not a hook message: the dump's end, another subsystem. */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_DONE;
	assert_int_equal(nfhook_decode(nlh, &e), -ENOMSG);
	nlh = hook_msg(buf, NFPROTO_IPV4, NULL, "f", 0, 0, NULL);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFNL_MSG_HOOK_GET;
	assert_int_equal(nfhook_decode(nlh, &e), -ENOMSG);
	/* Without a priority. */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_HOOK << 8) | NFNL_MSG_HOOK_GET;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg));
	mnl_attr_put_u32(nlh, NFNLA_HOOK_HOOKNUM, htonl(1));
	assert_int_equal(nfhook_decode(nlh, &e), -EINVAL);
	/* A priority of the wrong size. */
	mnl_attr_put_u16(nlh, NFNLA_HOOK_PRIORITY, 0);
	assert_int_equal(nfhook_decode(nlh, &e), -EINVAL);
	/* Chain info without its description, or cut short. */
	nlh = hook_msg(buf, NFPROTO_IPV4, NULL, "f", 2, 0, NULL);
	{
		struct nlattr *n = nest_start(nlh, NFNLA_HOOK_CHAIN_INFO);

		mnl_attr_put_u32(nlh, NFNLA_HOOK_INFO_TYPE, htonl(NFNL_HOOK_TYPE_NFTABLES));
		mnl_attr_nest_end(nlh, n);
	}
	assert_int_equal(nfhook_decode(nlh, &e), -EINVAL);
	/* A description without the table's family. */
	nlh = hook_msg(buf, NFPROTO_IPV4, NULL, "f", 2, 0, NULL);
	{
		struct nlattr *n1 = nest_start(nlh, NFNLA_HOOK_CHAIN_INFO), *n2;

		mnl_attr_put_u32(nlh, NFNLA_HOOK_INFO_TYPE, htonl(NFNL_HOOK_TYPE_NFTABLES));
		n2 = nest_start(nlh, NFNLA_HOOK_INFO_DESC);
		mnl_attr_put_strz(nlh, NFNLA_CHAIN_TABLE, cd.table);
		mnl_attr_put_strz(nlh, NFNLA_CHAIN_NAME, cd.chain);
		mnl_attr_nest_end(nlh, n2);
		mnl_attr_nest_end(nlh, n1);
	}
	assert_int_equal(nfhook_decode(nlh, &e), -EINVAL);
	/* A chain name that is not a string: no NUL. */
	nlh = hook_msg(buf, NFPROTO_IPV4, NULL, "f", 2, 0, &cd);
	/* The chain name "c\0" sits before the family attribute: 8 bytes each. */
	((char *)nlh)[nlh->nlmsg_len - 8 - 3] = 'x';
	assert_int_equal(nfhook_decode(nlh, &e), -EINVAL);
	/* Shorter than its headers. */
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 2;
	assert_int_equal(nfhook_decode(nlh, &e), -EINVAL);
}

/* A dump of the forward hook, in the order the kernel runs the functions. */
static struct nfhook_order *forward_order(int legacy_at)
{
	struct nfhook_order *o = nfhook_order_new();
	struct chain_desc a = { NFNL_HOOK_TYPE_NFTABLES, NFPROTO_INET, "lxd", "fwd" };
	struct chain_desc b = { NFNL_HOOK_TYPE_NFTABLES, NFPROTO_IPV4, "fw", "f" };
	char buf[512];
	struct nfhook_entry e;

	assert_non_null(o);
	hook_msg(buf, NFPROTO_IPV4, NULL, "nft_do_chain_inet", NF_INET_FORWARD, -150, &b);
	assert_int_equal(nfhook_decode((struct nlmsghdr *)buf, &e), 0);
	assert_int_equal(nfhook_order_add(o, &e), 0);
	for (int i = 0; i < 3; i++) {
		if (i == legacy_at)
			hook_msg(buf, NFPROTO_IPV4, NULL, "ipt_do_table", NF_INET_FORWARD, 0, NULL);
		else
			hook_msg(buf, NFPROTO_IPV4, NULL, "nft_do_chain_inet", NF_INET_FORWARD, 0,
				 i == (legacy_at == 0 ? 1 : 0) ? &a : &b);
		assert_int_equal(nfhook_decode((struct nlmsghdr *)buf, &e), 0);
		assert_int_equal(nfhook_order_add(o, &e), 0);
	}
	return o;
}

static void test_order_legacy_pos(void **state)
{
	const char *lxd[] = { "lxd" }, *both[] = { "lxd", "fw" }, *other[] = { "nope" };
	const uint8_t inet[] = { NFPROTO_INET }, fams[] = { NFPROTO_INET, NFPROTO_IPV4 };
	struct nfhook_order *o;

	(void)state;
	assert_false(nfhook_order_known(NULL));
	/* lxd, legacy filter, fw: one nft table before the legacy one. */
	o = forward_order(1);
	assert_true(nfhook_order_known(o));
	assert_int_equal(nfhook_order_legacy_pos(o, NFPROTO_IPV4, NF_INET_FORWARD, 0, lxd, inet, 1), 1);
	assert_int_equal(nfhook_order_legacy_pos(o, NFPROTO_IPV4, NF_INET_FORWARD, 0, both, fams, 2), 1);
	/* Not listed, another family or priority: the list doesn't tell. */
	assert_int_equal(nfhook_order_legacy_pos(o, NFPROTO_IPV4, NF_INET_FORWARD, 0, other, inet, 1), -1);
	assert_int_equal(nfhook_order_legacy_pos(o, NFPROTO_IPV6, NF_INET_FORWARD, 0, lxd, inet, 1), -1);
	assert_int_equal(nfhook_order_legacy_pos(o, NFPROTO_IPV4, NF_INET_FORWARD, 10, lxd, inet, 1), -1);
	nfhook_order_free(o);
	/* The legacy table first. */
	o = forward_order(0);
	assert_int_equal(nfhook_order_legacy_pos(o, NFPROTO_IPV4, NF_INET_FORWARD, 0, lxd, inet, 1), 0);
	nfhook_order_clear(o);
	assert_false(nfhook_order_known(o));
	nfhook_order_free(o);
}

/* ---- the grouper at a shared hook ---- */

#define MAX_PKTS 8
static struct {
	size_t			n;
	struct trace_record	steps[MAX_PKTS][8];
	size_t			nsteps[MAX_PKTS];
} seen;

static int emit_cb(void *ctx, const struct packet *p)
{
	(void)ctx;
	assert_true(seen.n < MAX_PKTS && p->nsteps <= 8);
	memcpy(seen.steps[seen.n], p->steps, p->nsteps * sizeof(*p->steps));
	seen.nsteps[seen.n++] = p->nsteps;
	return 0;
}

static const uint8_t udp4[] = {
	0x45, 0, 0, 32, 0x12, 0x34, 0, 0, 64, IPPROTO_UDP, 0, 0, 10, 0, 1, 2, 10, 0, 2, 7,
	0x9c, 0x40, 0, 53, 0, 12, 0, 0, 'q', 'u', 'e', 'y',
};

/* A step of one datagram (IP ID @ipid): legacy (table) or nft (table lxd, trace id 9). */
static void step(struct trace_record *r, int backend, int hook, const char *table,
		 const char *chain, enum trace_kind kind, uint32_t mark, uint16_t ipid)
{
	uint8_t b[sizeof(udp4)];

	memcpy(b, udp4, sizeof(b));
	b[4] = (uint8_t)(ipid >> 8);
	b[5] = (uint8_t)ipid;
	memset(r, 0, sizeof(*r));
	r->backend = (enum trace_backend)backend;
	r->kind = kind;
	r->hook = (int8_t)hook;
	r->mark = mark;
	r->table = table;
	r->chain = chain;
	r->verdict_chain = "";
	if (backend == TRACE_BACKEND_NFT) {
		r->table_family = NFPROTO_INET;
		r->trace_id = 9u + ipid;
		r->has_prio = true;
		r->prio = 0;
		r->handle = kind == TRACE_KIND_RULE ? 2 : 0;
		r->has_hdr = true;
	} else {
		r->rulenum = 1;
	}
	memcpy(r->raw, b, sizeof(b));
	r->raw_len = sizeof(b);
	assert_int_equal(pkt_decode(b, sizeof(b), AF_INET, &r->pkt), 0);
}

/*
 * One forwarded datagram: raw PREROUTING (legacy policy), then at forward priority 0 the
 * legacy filter FORWARD step (mark @lmark) and the nft chain lxd (a rule step with mark
 * @nmark, its policy). The legacy record arrives first: its socket is read first.
 */
static void datagram(struct grouper *g, uint16_t ipid, enum trace_kind lkind, uint32_t lmark,
		     uint32_t nmark, uint64_t t)
{
	struct trace_record r;

	step(&r, TRACE_BACKEND_LEGACY, HOOK_PREROUTING, "raw", "PREROUTING", TRACE_KIND_POLICY, 0, ipid);
	assert_int_equal(grouper_add(g, &r, t), 0);
	step(&r, TRACE_BACKEND_LEGACY, HOOK_FORWARD, "filter", "FORWARD", lkind, lmark, ipid);
	assert_int_equal(grouper_add(g, &r, t + 1), 0);
	step(&r, TRACE_BACKEND_NFT, HOOK_FORWARD, "lxd", "lxdfwd", TRACE_KIND_RULE, nmark, ipid);
	assert_int_equal(grouper_add(g, &r, t + 2), 0);
	step(&r, TRACE_BACKEND_NFT, HOOK_FORWARD, "lxd", "lxdfwd", TRACE_KIND_POLICY, nmark, ipid);
	assert_int_equal(grouper_add(g, &r, t + 3), 0);
}

static struct grouper *tie_grouper(const struct nfhook_order *hooks)
{
	struct grouper_cfg gc = {
		.window_ns = 1000, .max_open = 16, .max_steps = 8, .emit = emit_cb, .hooks = hooks,
	};

	memset(&seen, 0, sizeof(seen));
	return grouper_new(&gc);
}

/* "L" legacy filter, "N" an lxd step, lower case when marked order_unknown. */
static const char *shape(size_t pkt)
{
	static char s[16];
	size_t n = 0;

	for (size_t i = 1; i < seen.nsteps[pkt]; i++) {
		const struct trace_record *r = &seen.steps[pkt][i];
		char c = r->backend == TRACE_BACKEND_NFT ? 'N' : 'L';

		s[n++] = r->order_unknown ? (char)(c + 32) : c;
	}
	s[n] = '\0';
	return s;
}

/* The nft chain set the mark the legacy step saw: nft ran first, whatever came first. */
static void test_tie_by_marks(void **state)
{
	struct grouper *g = tie_grouper(NULL);

	(void)state;
	assert_non_null(g);
	datagram(g, 1, TRACE_KIND_RULE, 0x77, 0x77, 10);
	assert_int_equal(grouper_flush(g), 0);
	assert_string_equal(shape(0), "NNL");
	assert_string_equal(seen.steps[0][0].table, "raw");
	grouper_free(g);
	/* The legacy step saw no mark, the nft chain set it: legacy ran first. */
	g = tie_grouper(NULL);
	datagram(g, 1, TRACE_KIND_POLICY, 0, 0x77, 10);
	assert_int_equal(grouper_flush(g), 0);
	assert_string_equal(shape(0), "LNN");
	grouper_free(g);
}

/*
 * No mark moves: either order explains the records. The fixed order (legacy first), marked
 * unknown, for every packet; evidence in a later packet doesn't change the order the capture
 * chose, and a choice the marks made holds for later packets that can't tell.
 */
static void test_tie_unknown_is_stable(void **state)
{
	struct grouper *g = tie_grouper(NULL);

	(void)state;
	datagram(g, 1, TRACE_KIND_RULE, 0, 0, 10);
	datagram(g, 2, TRACE_KIND_RULE, 0x77, 0x77, 5000);	/* would say nft first */
	datagram(g, 3, TRACE_KIND_RULE, 0, 0, 10000);
	assert_int_equal(grouper_flush(g), 0);
	assert_int_equal(seen.n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(shape(i), "lnn");
	grouper_free(g);

	g = tie_grouper(NULL);
	datagram(g, 1, TRACE_KIND_RULE, 0x77, 0x77, 10);	/* nft first, by the marks */
	datagram(g, 2, TRACE_KIND_RULE, 0, 0, 5000);
	assert_int_equal(grouper_flush(g), 0);
	assert_string_equal(shape(0), "NNL");
	assert_string_equal(shape(1), "NNL");
	grouper_free(g);

	/* Unknown first, then marks that agree with the fixed order: known from then on. */
	g = tie_grouper(NULL);
	datagram(g, 1, TRACE_KIND_RULE, 0, 0, 10);
	datagram(g, 2, TRACE_KIND_POLICY, 0, 0x77, 5000);
	datagram(g, 3, TRACE_KIND_RULE, 0, 0, 10000);
	assert_int_equal(grouper_flush(g), 0);
	assert_string_equal(shape(0), "lnn");
	assert_string_equal(shape(1), "LNN");
	assert_string_equal(shape(2), "LNN");
	grouper_free(g);
}

/* The kernel's hook list wins over everything, and no step is marked. */
static void test_tie_by_hook_list(void **state)
{
	struct nfhook_order *o = forward_order(1);	/* lxd before legacy filter */
	struct grouper *g = tie_grouper(o);

	(void)state;
	datagram(g, 1, TRACE_KIND_RULE, 0, 0, 10);
	assert_int_equal(grouper_flush(g), 0);
	assert_string_equal(shape(0), "NNL");
	grouper_free(g);
	nfhook_order_free(o);
	o = forward_order(0);
	g = tie_grouper(o);
	datagram(g, 1, TRACE_KIND_RULE, 0x77, 0x77, 10);
	assert_int_equal(grouper_flush(g), 0);
	assert_string_equal(shape(0), "LNN");
	grouper_free(g);
	nfhook_order_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_nft_chain),
		cmocka_unit_test(test_decode_plain_hooks),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_order_legacy_pos),
		cmocka_unit_test(test_tie_by_marks),
		cmocka_unit_test(test_tie_unknown_is_stable),
		cmocka_unit_test(test_tie_by_hook_list),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
