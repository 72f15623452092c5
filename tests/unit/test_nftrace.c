/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_nftrace.c: the nf_tables trace decoder on recorded kernel bytes and crafted messages */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include "iptrace/logline.h"
#include "iptrace/nftrace.h"
#include "iptrace/nlrec.h"
#include "test_names.h"
#include "test_nlrec.h"

#define MAX_RECS 64

struct collected {
	size_t			n, chains, other;
	struct trace_record	rec[MAX_RECS];
};

static int collect_cb(const struct nlmsghdr *nlh, void *data)
{
	struct collected *c = data;
	struct trace_record r;
	int ret = nftrace_decode(nlh, test_nm, &r);

	if (ret == -ENOMSG) {
		if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWCHAIN)
			c->chains++;
		else
			c->other++;
		return MNL_CB_OK;
	}
	assert_int_equal(ret, 0);
	if (c->n < MAX_RECS)
		c->rec[c->n++] = r;
	return MNL_CB_OK;
}

/*
 * nftrace-dnat.nlrec: `iptrace --port 53 --record` on a router whose iptables-nft nat
 * table DNATs udp 10.96.0.10:53 to 10.0.2.7 through KUBE-SERVICES -> KUBE-SEP-DNS.
 */
#define DNAT_REC TEST_DATA_DIR "/nftrace-dnat.nlrec"

/* The records of DNAT_REC's trace chunks, and how many other messages they had. */
static void load(struct collected *c)
{
	memset(c, 0, sizeof(*c));
	run_chunks(DNAT_REC, NLREC_NFTRACE, collect_cb, c);
}

static const struct trace_record *find(const struct collected *c, const char *table,
				       const char *chain, enum trace_kind kind)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->rec[i].table, table) == 0 && strcmp(c->rec[i].chain, chain) == 0 &&
		    c->rec[i].kind == kind)
			return &c->rec[i];
	return NULL;
}

/* DNAT_REC's records, the marker's own chain's first. */
static void test_recorded_dnat(void **state)
{
	struct collected c;
	const struct trace_record *r, *own;
	struct in_addr vip, backend;

	(void)state;
	load(&c);
	assert_true(c.n >= 6);
	assert_true(c.chains >= 2);	/* the start-up dump went into the file too */
	inet_pton(AF_INET, "10.96.0.10", &vip);
	inet_pton(AF_INET, "10.0.2.7", &backend);

	/* Our own marker chain: first record of the traversal, headers included. */
	own = &c.rec[0];
	assert_int_equal(own->backend, TRACE_BACKEND_NFT);
	assert_memory_equal(own->table, "iptrace_", 8);
	assert_int_equal(own->table_family, NFPROTO_INET);
	assert_int_equal(own->nfproto, NFPROTO_IPV4);
	assert_true(own->has_hdr);
	assert_int_equal(own->pkt.family, AF_INET);
	assert_int_equal(own->pkt.proto, IPPROTO_UDP);
	assert_int_equal(own->pkt.dport, 53);
	assert_memory_equal(&own->pkt.daddr, &vip, 4);
	assert_true(own->ifindex_in != 0);
	assert_true(own->handle != 0);
	assert_true(own->has_verdict);
	assert_int_equal(own->verdict_code, NFT_CONTINUE);	/* meta nftrace set 1 goes on */

	r = find(&c, "nat", "PREROUTING", TRACE_KIND_RULE);
	assert_non_null(r);
	assert_int_equal(r->table_family, NFPROTO_IPV4);
	assert_int_equal(r->trace_id, own->trace_id);
	assert_true(r->has_verdict);
	assert_int_equal(r->verdict_code, NFT_JUMP);
	assert_string_equal(r->verdict_chain, "KUBE-SERVICES");
	assert_string_equal(nftrace_verdict_name(r->verdict_code), "jump");
	/* A new base chain: headers again, and the conntrack attributes (18-21). */
	assert_true(r->has_hdr);
	assert_true(r->has_ct);
	assert_int_not_equal(r->ct_id, 0);

	r = find(&c, "nat", "KUBE-SEP-DNS", TRACE_KIND_RULE);
	assert_non_null(r);
	assert_false(r->has_hdr);	/* same traversal: later records carry none */
	assert_int_equal(r->verdict_code, NF_ACCEPT);

	/* After DNAT, the forward chain's headers show the new destination. */
	r = find(&c, "filter", "FORWARD", TRACE_KIND_RULE);
	assert_non_null(r);
	assert_true(r->has_hdr);
	assert_memory_equal(&r->pkt.daddr, &backend, 4);
	assert_int_equal(r->pkt.ipid, own->pkt.ipid);

	/* Each chain that ran out of rules ends with the handle-less continue record. */
	r = find(&c, "iptrace_", "prerouting", TRACE_KIND_POLICY);
	assert_null(r);
	for (size_t i = 0; i < c.n; i++) {
		if (c.rec[i].handle == 0 && c.rec[i].kind == TRACE_KIND_RULE)
			assert_true(nftrace_chain_end(&c.rec[i]));
		if (c.rec[i].handle != 0)
			assert_false(nftrace_chain_end(&c.rec[i]));
	}
}

/* An nf_tables message @type of @family, headers only, built in @buf (@size bytes, zeroed). */
static struct nlmsghdr *put_nft_msg(char *buf, size_t size, uint8_t type, uint8_t family)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	memset(buf, 0, size);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	return nlh;
}

#define CRAFT_SIZE 1024

/*
 * A crafted trace message in @buf (CRAFT_SIZE bytes):
 * @extra adds attributes after the required ones.
 */
static struct nlmsghdr *craft(char *buf, bool with_id, void (*extra)(struct nlmsghdr *))
{
	struct nlmsghdr *nlh = put_nft_msg(buf, CRAFT_SIZE, NFT_MSG_TRACE, NFPROTO_INET);

	mnl_attr_put_strz(nlh, NFTA_TRACE_TABLE, "t");
	mnl_attr_put_strz(nlh, NFTA_TRACE_CHAIN, "c");
	mnl_attr_put_u32(nlh, NFTA_TRACE_TYPE, htonl(NFT_TRACETYPE_POLICY));
	if (with_id)
		mnl_attr_put_u32(nlh, NFTA_TRACE_ID, htonl(0xabcdef01));
	if (extra)
		extra(nlh);
	return nlh;
}

static void add_unknown(struct nlmsghdr *nlh)
{
	mnl_attr_put_u32(nlh, 40, 7);	/* from a future kernel */
	mnl_attr_put_u32(nlh, NFTA_TRACE_POLICY, htonl(NF_DROP));
}

static void add_short_mark(struct nlmsghdr *nlh)
{
	mnl_attr_put_u16(nlh, NFTA_TRACE_MARK, 1);	/* u32 expected */
}

static void add_short_ct(struct nlmsghdr *nlh)
{
	mnl_attr_put_u16(nlh, 18, 1);	/* NFTA_TRACE_CT_ID is a be32 */
}

static void add_jump(struct nlmsghdr *nlh)
{
	struct nlattr *v = mnl_attr_nest_start(nlh, NFTA_TRACE_VERDICT);

	mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl((uint32_t)NFT_JUMP));
	mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, "a-chain-name-longer-than-thirty-one-bytes");
	mnl_attr_nest_end(nlh, v);
	mnl_attr_put_u64(nlh, NFTA_TRACE_RULE_HANDLE, htobe64(42));
}

static void add_verdict_without_code(struct nlmsghdr *nlh)
{
	struct nlattr *v = mnl_attr_nest_start(nlh, NFTA_TRACE_VERDICT);

	mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, "x");
	mnl_attr_nest_end(nlh, v);
}

static void add_verdict_short_code(struct nlmsghdr *nlh)
{
	struct nlattr *v = mnl_attr_nest_start(nlh, NFTA_TRACE_VERDICT);

	mnl_attr_put_u16(nlh, NFTA_VERDICT_CODE, 1);
	mnl_attr_nest_end(nlh, v);
}

static void add_name_without_nul(struct nlmsghdr *nlh)
{
	mnl_attr_put(nlh, NFTA_TRACE_CHAIN, 3, "abc");	/* the last one counts: checked too */
}

static void add_ct(struct nlmsghdr *nlh)
{
	mnl_attr_put_u32(nlh, 18, htonl(77));		/* NFTA_TRACE_CT_ID */
	mnl_attr_put_u8(nlh, 19, 1);			/* NFTA_TRACE_CT_DIRECTION */
	mnl_attr_put_u32(nlh, 20, htonl(0x188));	/* NFTA_TRACE_CT_STATUS */
	mnl_attr_put_u32(nlh, 21, htonl(8));		/* NFTA_TRACE_CT_STATE */
}

/* A verdict and its chain (whole, however long), the handle, the conntrack attributes. */
static void test_crafted_fields(void **state)
{
	char buf[CRAFT_SIZE];
	struct trace_record r;
	struct nlmsghdr *nlh;
	const char *table;

	(void)state;
	nlh = craft(buf, true, add_jump);
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), 0);
	assert_true(r.has_verdict);
	assert_int_equal(r.verdict_code, NFT_JUMP);
	assert_string_equal(r.verdict_chain, "a-chain-name-longer-than-thirty-one-bytes");
	assert_int_equal(r.handle, 42);
	assert_false(r.has_ct);
	table = r.table;
	nlh = craft(buf, true, add_ct);
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), 0);
	/* The pool's one copy of a name; no jump here: no target. */
	assert_ptr_equal(r.table, table);
	assert_string_equal(r.verdict_chain, "");
	assert_true(r.has_ct);
	assert_int_equal(r.ct_id, 77);
	assert_int_equal(r.ct_dir, 1);
	assert_int_equal(r.ct_status, 0x188);
	assert_int_equal(r.ct_state, 8);
	assert_int_equal(r.nfproto, NFPROTO_INET);	/* no NFPROTO: the table's family */

	nlh = craft(buf, true, add_verdict_without_code);
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), -EINVAL);
	nlh = craft(buf, true, add_verdict_short_code);
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), -EINVAL);
	nlh = craft(buf, true, add_name_without_nul);
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), -EINVAL);
	/* A length that is not a multiple of 4: libmnl would walk past it. */
	nlh = craft(buf, true, NULL);
	nlh->nlmsg_len += 1;
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), -EINVAL);
	/* The ID cut off by the message's end: as if missing. */
	nlh = craft(buf, true, NULL);
	nlh->nlmsg_len -= 4;
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), -EINVAL);
}

static void test_crafted(void **state)
{
	char buf[CRAFT_SIZE];
	struct trace_record r;
	struct nlmsghdr *nlh;

	(void)state;
	nlh = craft(buf, true, add_unknown);
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), 0);
	assert_int_equal(r.kind, TRACE_KIND_POLICY);
	assert_int_equal(r.trace_id, 0xabcdef01);
	assert_true(r.has_policy);
	assert_string_equal(nftrace_verdict_name((int32_t)r.policy), "drop");
	assert_false(r.has_hdr);
	assert_string_equal(nftrace_family_name(r.table_family), "inet");

	nlh = craft(buf, false, NULL);
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), -EINVAL);	/* no ID */
	nlh = craft(buf, true, add_short_mark);
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), -EINVAL);
	nlh = craft(buf, true, add_short_ct);
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), -EINVAL);

	/* Truncated: the length says less than the family header. */
	nlh = craft(buf, true, NULL);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 2;
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), -EINVAL);

	/* Other nf_tables messages are not trace records. */
	nlh = craft(buf, true, NULL);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN;
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), -ENOMSG);
}

/*
 * A traversal's first record as nf_tables_trace.c builds it: the network header up to the
 * transport header, at most 40 bytes, then 20 bytes from the transport header on (from the
 * network header itself when the kernel found no transport header: thoff 0). Bytes as a
 * lab router's forward chain got them from `ping -6 -s 3000` and `ping -R`.
 */
static const uint8_t v6_first_frag[40] = {	/* nexthdr 44: a fragment header follows */
	0x60, 0x09, 0x15, 0x1b, 0x05, 0xb0, 44, 63,
	0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
};
static const uint8_t v6_icmp[40] = {		/* the same, nexthdr 58: no gap */
	0x60, 0x09, 0x15, 0x1b, 0x00, 0x40, 58, 63,
	0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
};
static const uint8_t v4_rr[40] = {		/* IHL 15: 40 bytes of record-route option */
	0x4f, 0x00, 0x00, 0x7c, 0x12, 0x34, 0x40, 0x00, 63, IPPROTO_ICMP, 0, 0,
	10, 0, 1, 2, 10, 0, 2, 7,
	0x01, 0x07, 0x27, 0x0c, 10, 0, 1, 2, 10, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0,
};
static const uint8_t echo6[20] = { 128, 0, 0x12, 0x34, 0x0a, 0x07, 0x00, 0x01, 'p', 'i', 'n', 'g' };
static const uint8_t echo4[20] = { 8, 0, 0x12, 0x34, 0x0a, 0x07, 0x00, 0x01, 'p', 'i', 'n', 'g' };

static void add_headers(struct nlmsghdr *nlh, uint32_t pf, const uint8_t *nh, const uint8_t *th)
{
	mnl_attr_put_u32(nlh, NFTA_TRACE_NFPROTO, htonl(pf));
	mnl_attr_put_u32(nlh, NFTA_TRACE_IIF, htonl(3));
	if (nh)
		mnl_attr_put(nlh, NFTA_TRACE_NETWORK_HEADER, 40, nh);
	mnl_attr_put(nlh, NFTA_TRACE_TRANSPORT_HEADER, 20, th);
}

static void add_v6_first_frag(struct nlmsghdr *nlh)
{
	add_headers(nlh, NFPROTO_IPV6, v6_first_frag, echo6);
}

static void add_v6_icmp(struct nlmsghdr *nlh)
{
	add_headers(nlh, NFPROTO_IPV6, v6_icmp, echo6);
}

static void add_v4_rr(struct nlmsghdr *nlh)
{
	add_headers(nlh, NFPROTO_IPV4, v4_rr, echo4);
}

static void add_v6_later_frag(struct nlmsghdr *nlh)
{
	add_headers(nlh, NFPROTO_IPV6, NULL, v6_first_frag);
}

/* @r as --format log prints it. */
static char *log_line(const struct trace_record *r, char *buf, size_t size)
{
	FILE *f = fmemopen(buf, size, "w");

	assert_non_null(f);
	assert_int_equal(logline_format(f, r), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/*
 * A network header the kernel cut at 40 bytes is not followed by the transport header:
 * what lies between (IPv6 extension headers, IPv4 options) is unknown. The protocol and
 * ports stay unknown instead of being read from the wrong bytes (an ICMPv6 type taken for
 * the next header, an ICMP header printed as IP options).
 */
static void test_cut_network_header(void **state)
{
	char buf[CRAFT_SIZE], line[1024];
	struct trace_record r;
	struct nlmsghdr *nlh;
	char a[INET6_ADDRSTRLEN];

	(void)state;
	nlh = craft(buf, true, add_v6_icmp);		/* nothing cut: joined */
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), 0);
	assert_true(r.has_hdr);
	assert_int_equal(r.raw_len, 60);
	assert_int_equal(r.pkt.proto, IPPROTO_ICMPV6);
	assert_true(r.pkt.has_l4);
	assert_int_equal(r.pkt.icmp_type, 128);

	nlh = craft(buf, true, add_v6_first_frag);
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), 0);
	assert_true(r.has_hdr);
	assert_int_equal(r.raw_len, 40);
	assert_int_equal(r.pkt.family, AF_INET6);
	assert_int_equal(r.pkt.len, 1496);
	assert_string_equal(inet_ntop(AF_INET6, &r.pkt.daddr, a, sizeof(a)), "2001:db8:2::2");
	assert_int_not_equal(r.pkt.proto, 128);
	assert_int_not_equal(r.pkt.proto, IPPROTO_ICMPV6);
	assert_false(r.pkt.has_l4);
	assert_false(r.pkt.has_ports);
	log_line(&r, line, sizeof(line));
	assert_non_null(strstr(line, " HOPLIMIT=63 FLOWLBL=595227 TRUNCATED"));
	assert_null(strstr(line, "FRAG:"));

	nlh = craft(buf, true, add_v4_rr);
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), 0);
	assert_int_equal(r.raw_len, 40);
	assert_int_equal(r.pkt.family, AF_INET);
	assert_int_equal(r.pkt.proto, IPPROTO_ICMP);
	assert_int_equal(r.pkt.len, 124);
	assert_int_equal(r.pkt.ipid, 0x1234);
	assert_string_equal(inet_ntop(AF_INET, &r.pkt.saddr, a, sizeof(a)), "10.0.1.2");
	assert_false(r.pkt.has_l4);
	log_line(&r, line, sizeof(line));
	assert_non_null(strstr(line, " TTL=63 ID=4660 DF TRUNCATED"));
	assert_null(strstr(line, "OPT ("));

	/* A later fragment: no network header; its "transport" bytes are the IPv6 header's. */
	nlh = craft(buf, true, add_v6_later_frag);
	assert_int_equal(nftrace_decode(nlh, test_nm, &r), 0);
	assert_true(r.has_hdr);			/* it opens the traversal all the same */
	assert_int_equal(r.ifindex_in, 3);
	assert_int_equal(r.raw_len, 0);
	assert_int_equal(r.pkt.family, 0);
}

/* Every message of a trace chunk taught to the chain map @data. */
static void learn_chunk(void *data, uint16_t source, uint64_t ts_ns, const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;
	int n = (int)len;

	(void)ts_ns;
	if (source != NLREC_NFTRACE)
		return;
	for (; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n))
		assert_int_equal(nftrace_ctx_learn(data, nlh), 0);
}

/* The chain map places base chains; regular chains and header-less records inherit. */
static void test_ctx_fill(void **state)
{
	struct nftrace_ctx *ctx = nftrace_ctx_new();
	struct collected c;

	(void)state;
	assert_non_null(ctx);
	load(&c);
	/* Learn the dump (the first NFTRACE chunks), then fill every record in order. */
	each_chunk(DNAT_REC, learn_chunk, ctx);
	for (size_t i = 0; i < c.n; i++) {
		struct trace_record *r = &c.rec[i];

		nftrace_ctx_fill(ctx, r);
		assert_int_equal(r->pkt.family, AF_INET);	/* inherited where absent */
		assert_true(r->has_prio);
		if (strcmp(r->chain, "KUBE-SEP-DNS") == 0 || strcmp(r->chain, "PREROUTING") == 0) {
			assert_int_equal(r->hook, HOOK_PREROUTING);
			assert_int_equal(r->prio, -100);	/* iptables-nft's nat */
			assert_int_not_equal(r->ifindex_in, 0);
		}
		if (strcmp(r->chain, "FORWARD") == 0)
			assert_int_equal(r->hook, HOOK_FORWARD);
		if (strncmp(r->table, "iptrace_", 8) == 0)
			assert_int_equal(r->prio, -350);
	}
	nftrace_ctx_free(ctx);
}

/* A step's verdict as nft names it, cut to the buffer like snprintf would. */
static void test_step_verdict(void **state)
{
	struct trace_record r = { .verdict_chain = "" };
	char buf[16 + TRACE_NFT_NAME_MAX], longest[TRACE_NFT_NAME_MAX];

	(void)state;
	assert_null(nftrace_step_verdict(&r, buf, sizeof(buf)));
	r.has_policy = true;
	r.policy = NF_DROP;
	assert_string_equal(nftrace_step_verdict(&r, buf, sizeof(buf)), "drop");
	r.has_verdict = true;
	r.verdict_code = NFT_JUMP;
	r.verdict_chain = "KUBE-SERVICES";
	assert_string_equal(nftrace_step_verdict(&r, buf, sizeof(buf)), "jump KUBE-SERVICES");
	assert_string_equal(nftrace_step_verdict(&r, buf, 8), "jump KU");
	assert_string_equal(nftrace_step_verdict(&r, buf, 5), "jump");
	assert_string_equal(nftrace_step_verdict(&r, buf, 6), "jump ");
	assert_string_equal(nftrace_step_verdict(&r, buf, 3), "ju");
	assert_string_equal(nftrace_step_verdict(&r, buf, 1), "");
	memset(longest, 'c', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	r.verdict_chain = longest;
	assert_int_equal(strlen(nftrace_step_verdict(&r, buf, sizeof(buf))),
			 5 + TRACE_NFT_NAME_MAX - 1);
	r.verdict_code = NF_ACCEPT;
	r.verdict_chain = "";
	assert_string_equal(nftrace_step_verdict(&r, buf, sizeof(buf)), "accept");
}

/*
 * An NFT_MSG_NEWCHAIN for an IPv4 base chain, as the kernel announces one, built in @buf;
 * its priority attribute holds the @plen bytes at @prio (a be32 when the kernel sends it).
 */
static struct nlmsghdr *put_chain(char *buf, size_t size, const char *table, const char *chain,
				  uint32_t hooknum, const void *prio, size_t plen)
{
	struct nlmsghdr *nlh = put_nft_msg(buf, size, NFT_MSG_NEWCHAIN, NFPROTO_IPV4);
	struct nlattr *hook;

	mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, chain);
	hook = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
	mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl(hooknum));
	mnl_attr_put(nlh, NFTA_HOOK_PRIORITY, plen, prio);
	mnl_attr_nest_end(nlh, hook);
	return nlh;
}

/* put_chain() with priority @prio, as the kernel sends it. */
static struct nlmsghdr *put_newchain(char *buf, size_t size, const char *table, const char *chain,
				     uint32_t hooknum, int32_t prio)
{
	uint32_t be = htonl((uint32_t)prio);

	return put_chain(buf, size, table, chain, hooknum, &be, sizeof(be));
}

/*
 * A chain map that knows one IPv4 forward chain @table/@chain at @prio, and in @r a record
 * of that chain (pointing at @table and @chain), not placed yet.
 */
static struct nftrace_ctx *ctx_with_chain(const char *table, const char *chain, int32_t prio,
					  struct trace_record *r)
{
	struct nftrace_ctx *ctx = nftrace_ctx_new();
	char buf[1024];

	assert_non_null(ctx);
	assert_int_equal(nftrace_ctx_learn(ctx, put_newchain(buf, sizeof(buf), table, chain,
							     NF_INET_FORWARD, prio)), 0);
	memset(r, 0, sizeof(*r));
	r->backend = TRACE_BACKEND_NFT;
	r->table_family = NFPROTO_IPV4;
	r->hook = HOOK_NONE;
	r->table = table;
	r->chain = chain;
	r->verdict_chain = "";
	return ctx;
}

/* A chain whose names are longer than legacy ones may be is found by its whole names. */
static void test_ctx_long_names(void **state)
{
	static const char table[] = "a-table-name-longer-than-thirty-one-bytes";
	static const char chain[] = "a-chain-name-longer-than-thirty-one-bytes";
	char other[sizeof(chain)];
	struct trace_record r;
	struct nftrace_ctx *ctx = ctx_with_chain(table, chain, -150, &r);

	(void)state;
	nftrace_ctx_fill(ctx, &r);
	assert_true(r.has_prio);
	assert_int_equal(r.hook, HOOK_FORWARD);
	assert_int_equal(r.prio, -150);

	/* Another family, or a name that differs anywhere (past byte 31 too): not that chain. */
	r.has_prio = false;
	r.hook = HOOK_NONE;
	r.table_family = NFPROTO_IPV6;
	nftrace_ctx_fill(ctx, &r);
	assert_false(r.has_prio);
	r.table_family = NFPROTO_IPV4;
	memcpy(other, chain, sizeof(chain));
	other[35] = 'X';
	r.chain = other;
	nftrace_ctx_fill(ctx, &r);
	assert_false(r.has_prio);
	other[35] = chain[35];
	other[3] = 'X';
	nftrace_ctx_fill(ctx, &r);
	assert_false(r.has_prio);
	nftrace_ctx_free(ctx);
}

/* A chain message with a bad hook, or without its names, is refused; the map stays. */
static void test_ctx_malformed(void **state)
{
	struct trace_record r;
	struct nftrace_ctx *ctx = ctx_with_chain("x", "a", 10, &r);
	const uint16_t short_prio = 5;	/* a be32 */
	char buf[1024];
	struct nlmsghdr *nlh;

	(void)state;
	nlh = put_chain(buf, sizeof(buf), "x", "a", NF_INET_LOCAL_IN, &short_prio,
			sizeof(short_prio));
	assert_int_equal(nftrace_ctx_learn(ctx, nlh), -EINVAL);
	nlh = put_newchain(buf, sizeof(buf), "x", "a", NF_INET_LOCAL_IN, 20);
	nlh->nlmsg_len += 2;
	assert_int_equal(nftrace_ctx_learn(ctx, nlh), -EINVAL);
	nlh = put_newchain(buf, sizeof(buf), "x", "a", NF_INET_LOCAL_IN, 20);
	mnl_attr_put(nlh, NFTA_CHAIN_NAME, 1, "b");	/* no NUL */
	assert_int_equal(nftrace_ctx_learn(ctx, nlh), -EINVAL);
	nftrace_ctx_fill(ctx, &r);
	assert_int_equal(r.hook, HOOK_FORWARD);	/* as learnt before */
	assert_int_equal(r.prio, 10);
	nftrace_ctx_free(ctx);
}

/* DELTABLE forgets the table's chains, whatever its other attributes (use count included). */
static void test_ctx_deltable(void **state)
{
	struct trace_record r;
	struct nftrace_ctx *ctx = ctx_with_chain("x", "a", 10, &r);
	char buf[1024];
	struct nlmsghdr *nlh;

	(void)state;
	nftrace_ctx_fill(ctx, &r);
	assert_true(r.has_prio);
	assert_int_equal(r.prio, 10);

	/* As the kernel sends it: name, flags, use, handle. */
	nlh = put_nft_msg(buf, sizeof(buf), NFT_MSG_DELTABLE, NFPROTO_IPV4);
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, "x");
	mnl_attr_put_u32(nlh, NFTA_TABLE_FLAGS, 0);
	mnl_attr_put_u32(nlh, NFTA_TABLE_USE, htonl(3));
	mnl_attr_put_u64(nlh, NFTA_TABLE_HANDLE, htobe64(7));
	assert_int_equal(nftrace_ctx_learn(ctx, nlh), 0);
	r.has_prio = false;
	nftrace_ctx_fill(ctx, &r);
	assert_false(r.has_prio);
	nftrace_ctx_free(ctx);
}

/* The hooks where a non-nat base chain reports every packet, kept in step with the map. */
static void test_ctx_hooks(void **state)
{
	struct trace_record r;
	struct nftrace_ctx *ctx = ctx_with_chain("x", "fwd", 0, &r);
	char buf[1024];
	struct nlmsghdr *nlh;

	(void)state;
	assert_int_equal(nftrace_ctx_hooks(ctx, AF_INET), 1u << HOOK_FORWARD);
	assert_int_equal(nftrace_ctx_hooks(ctx, AF_INET6), 0);
	/* A nat chain sees only a connection's first packet: it does not count. */
	nlh = put_newchain(buf, sizeof(buf), "x", "post", NF_INET_POST_ROUTING, 100);
	mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, "nat");
	assert_int_equal(nftrace_ctx_learn(ctx, nlh), 0);
	assert_int_equal(nftrace_ctx_hooks(ctx, AF_INET), 1u << HOOK_FORWARD);
	nlh = put_newchain(buf, sizeof(buf), "x", "in", NF_INET_LOCAL_IN, 0);
	mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, "filter");
	assert_int_equal(nftrace_ctx_learn(ctx, nlh), 0);
	assert_int_equal(nftrace_ctx_hooks(ctx, AF_INET),
			 1u << HOOK_FORWARD | 1u << HOOK_INPUT);
	nftrace_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recorded_dnat),
		cmocka_unit_test(test_crafted),
		cmocka_unit_test(test_crafted_fields),
		cmocka_unit_test(test_cut_network_header),
		cmocka_unit_test(test_ctx_fill),
		cmocka_unit_test(test_step_verdict),
		cmocka_unit_test(test_ctx_long_names),
		cmocka_unit_test(test_ctx_deltable),
		cmocka_unit_test(test_ctx_malformed),
		cmocka_unit_test(test_ctx_hooks),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, names_setup, names_teardown);
}
