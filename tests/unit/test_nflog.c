/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_nflog.c: the NFLOG decoder and pipeline on recorded kernel messages and on bad input */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

#include "iptrace/logline.h"
#include "iptrace/nflog.h"
#include "iptrace/nlrec.h"
#include "iptrace/pipeline.h"
#include "test_names.h"
#include "test_nlrec.h"

#define REC_FILE TEST_DATA_DIR "/nflog-dnat-udp.nlrec"

struct collected {
	struct trace_record	recs[64];
	size_t			n;
	int			other;
};

static int collect_cb(const struct nlmsghdr *nlh, void *data)
{
	struct collected *c = data;
	struct trace_record r;
	int ret = nflog_decode(nlh, test_nm, &r);

	if (ret == -ENOMSG) {
		c->other++;
		return MNL_CB_OK;
	}
	assert_int_equal(ret, 0);
	assert_true(c->n < 64);
	c->recs[c->n++] = r;
	return MNL_CB_OK;
}

/* The records of REC_FILE, NFLOG chunks only. */
static void load(struct collected *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(run_chunks(REC_FILE, NLREC_NFLOG, collect_cb, c), 0);
}

/* The recording: two UDP datagrams 10.0.1.2 → 10.96.0.10:53, DNATed to 10.0.2.7:53. */
static void test_recorded_records(void **state)
{
	struct collected c;
	char a[INET_ADDRSTRLEN];
	size_t dnat_at = 0;

	(void)state;
	load(&c);
	assert_int_equal(c.n, 20);
	assert_int_equal(c.other, 0);
	for (size_t i = 0; i < c.n; i++) {
		const struct trace_record *r = &c.recs[i];

		assert_int_equal(r->backend, TRACE_BACKEND_LEGACY);
		assert_int_equal(r->pkt.family, AF_INET);
		assert_int_equal(r->pkt.proto, IPPROTO_UDP);
		assert_int_equal(r->pkt.dport, 53);
		assert_true(r->has_seq);
		if (i)	/* one instance, nothing lost: consecutive sequence numbers */
			assert_int_equal(r->seq, c.recs[i - 1].seq + 1);
		inet_ntop(AF_INET, &r->pkt.saddr, a, sizeof(a));
		assert_string_equal(a, "10.0.1.2");
		inet_ntop(AF_INET, &r->pkt.daddr, a, sizeof(a));
		if (strcmp(a, "10.0.2.7") == 0 && !dnat_at)
			dnat_at = i;
		assert_true(r->ifindex_in != 0);
		assert_int_equal(r->nfproto, AF_INET);
		/* veth: an Ethernet header on every record (each has an input device). */
		assert_int_equal(r->hw_type, 1);
		assert_int_equal(r->hw_len, 14);
		assert_int_equal(r->hw[12], 0x08);
		/* The kernel stamps records in PREROUTING, INPUT and FORWARD only. */
		assert_int_equal(r->ts_ns != 0, r->hook == HOOK_PREROUTING ||
			       r->hook == HOOK_INPUT || r->hook == HOOK_FORWARD);
		/* Whole datagrams (shorter than TRACE_RAW_MAX), forwarded after PREROUTING. */
		assert_int_equal(r->raw_len, r->pkt.len);
		assert_int_equal(r->pkt.ttl, r->hook == HOOK_PREROUTING ? 64 : 63);
		assert_int_equal(r->mark, 0);
	}
	/* The first packet's path, as the kernel reported it. */
	assert_string_equal(c.recs[0].table, "raw");
	assert_string_equal(c.recs[0].chain, "PREROUTING");
	assert_int_equal(c.recs[0].kind, TRACE_KIND_POLICY);
	assert_int_equal(c.recs[0].hook, HOOK_PREROUTING);
	assert_true(c.recs[0].ts_ns != 0);	/* PREROUTING records carry a timestamp */
	assert_string_equal(c.recs[5].chain, "KUBE-SEP-DNS");
	assert_int_equal(c.recs[5].kind, TRACE_KIND_RULE);
	assert_int_equal(c.recs[5].rulenum, 2);
	assert_int_equal(c.recs[5].hook, HOOK_PREROUTING);	/* user chains carry the hook */
	/* The step after the DNAT rule sees the new destination. */
	assert_int_equal(dnat_at, 6);
	assert_string_equal(c.recs[6].chain, "FORWARD");
	assert_int_equal(c.recs[6].hook, HOOK_FORWARD);
	assert_true(c.recs[6].ifindex_out != 0);
	assert_int_equal(c.recs[9].hook, HOOK_POSTROUTING);
	/* NAT-proof fields agree across the whole first packet. */
	for (size_t i = 1; i < 10; i++) {
		assert_int_equal(c.recs[i].pkt.ipid, c.recs[0].pkt.ipid);
		assert_int_equal(c.recs[i].pkt.payload_hash, c.recs[0].pkt.payload_hash);
	}
	assert_int_not_equal(c.recs[10].pkt.ipid, c.recs[0].pkt.ipid);
}

static int count_msg(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(*(unsigned *)data)++;
	return MNL_CB_OK;
}

/*
 * Records the kernel dropped are counted by the gaps in NFLOG sequence numbers, those
 * before the first one that arrived too (our instance numbers from 0): the recording with
 * its first and sixth chunks left out has lost exactly their records.
 */
static void test_sequence_gaps(void **state)
{
	struct nlrec *r = nlrec_open(REC_FILE);
	FILE *f = fopen("/dev/null", "w");
	struct sink sink = { .ops = &sink_json_ops, .out = f };
	struct pipeline_cfg pc = { .window_ns = 250000000ull };
	struct pipeline *pl;
	struct summary sum;
	const void *chunk;
	unsigned skipped = 0, n = 0;
	uint16_t src;
	uint64_t ts;
	size_t len;
	bool broken;

	(void)state;
	assert_non_null(r);
	assert_non_null(f);
	pl = pipeline_new(&pc, &sink);
	assert_non_null(pl);
	while (nlrec_next(r, &src, &ts, &chunk, &len) > 0) {
		if (n++ == 0 || n == 6) {
			nlrec_walk(chunk, len, count_msg, &skipped, &broken);
			continue;
		}
		pipeline_set_clock(pl, ts, 0);
		assert_int_equal(pipeline_dispatch(pl, src, chunk, len), 0);
	}
	assert_int_equal(pipeline_finish(pl, NULL), 0);
	pipeline_summary(pl, &sum);
	assert_true(skipped >= 2);
	assert_int_equal(sum.lost, skipped);
	assert_int_equal(sum.records, 20 - skipped);
	pipeline_free(pl);
	nlrec_close(r);
	fclose(f);
}

struct emitted {
	size_t	npackets;
	size_t	steps[8];
	char	json[8192];
};

/* The recording replayed through the pipeline, as --replay does, into the JSON sink. */
static void test_recorded_pipeline(void **state)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	struct sink sink = { .ops = &sink_json_ops, .out = f };
	struct pipeline_cfg pc = { .window_ns = 250000000ull };
	struct pipeline *pl;
	int packets = 0;

	(void)state;
	pl = pipeline_new(&pc, &sink);
	assert_non_null(pl);
	each_chunk(REC_FILE, replay_chunk, pl);
	assert_int_equal(pipeline_finish(pl, NULL), 0);
	pipeline_free(pl);
	fclose(f);
	for (char *p = buf; (p = strstr(p, "\"type\":\"packet\"")); p++)
		packets++;
	assert_int_equal(packets, 2);
	assert_non_null(strstr(buf, "{\"type\":\"summary\",\"packets\":2,\"records\":20,\"lost\":0"));
	/* The summary is the last line. */
	assert_non_null(strstr(strrchr(buf, '{'), "\"type\":\"summary\""));
	assert_non_null(strstr(buf, "\"chain\":\"KUBE-SEP-DNS\",\"kind\":\"rule\",\"rulenum\":2"));
	assert_non_null(strstr(buf, "\"in\":\"if"));	/* replay never names host interfaces */
	free(buf);
}

/* Build an NFLOG packet message by hand for the error paths. */
static struct nlmsghdr *msg_start(char *buf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_INET;
	return nlh;
}

static void put_hdr(struct nlmsghdr *nlh)
{
	struct nfulnl_msg_packet_hdr ph = { .hw_protocol = htons(0x0800), .hook = 0 };

	mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof(ph), &ph);
}

static void test_not_trace(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh = msg_start(buf);
	struct trace_record r;

	(void)state;
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "DROPPED: ");
	assert_int_equal(nflog_decode(nlh, test_nm, &r), -ENOMSG);
}

static void test_missing_attrs(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh = msg_start(buf);
	struct trace_record r;

	(void)state;
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:PREROUTING:policy:1 ");
	assert_int_equal(nflog_decode(nlh, test_nm, &r), -EINVAL);	/* no PACKET_HDR */
	nlh = msg_start(buf);
	put_hdr(nlh);
	assert_int_equal(nflog_decode(nlh, test_nm, &r), -EINVAL);	/* no PREFIX */
}

/*
 * Every fixed-size attribute one byte short and one byte long: the message is rejected
 * (the checks are nflog_nlmsg_parse()'s: this holds the library to them), as is a prefix
 * that starts as TRACE but is not one.
 */
static void test_bad_sizes(void **state)
{
	static const struct {
		uint16_t	type, size;
	} fixed[] = {
		{ NFULA_PACKET_HDR, sizeof(struct nfulnl_msg_packet_hdr) },
		{ NFULA_TIMESTAMP, sizeof(struct nfulnl_msg_packet_timestamp) },
		{ NFULA_HWADDR, sizeof(struct nfulnl_msg_packet_hw) },
		{ NFULA_MARK, 4 }, { NFULA_IFINDEX_INDEV, 4 }, { NFULA_IFINDEX_OUTDEV, 4 },
		{ NFULA_IFINDEX_PHYSINDEV, 4 }, { NFULA_IFINDEX_PHYSOUTDEV, 4 },
		{ NFULA_UID, 4 }, { NFULA_GID, 4 }, { NFULA_SEQ, 4 }, { NFULA_SEQ_GLOBAL, 4 },
		{ NFULA_HWTYPE, 2 }, { NFULA_HWLEN, 2 },
	};
	static const uint8_t zero[32];
	char buf[512];
	struct nlmsghdr *nlh;
	struct trace_record r;

	(void)state;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		for (int delta = -1; delta <= 1; delta++) {
			nlh = msg_start(buf);
			if (fixed[i].type != NFULA_PACKET_HDR)
				put_hdr(nlh);
			mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:PREROUTING:policy:1 ");
			mnl_attr_put(nlh, fixed[i].type, (size_t)(fixed[i].size + delta), zero);
			assert_int_equal(nflog_decode(nlh, test_nm, &r), delta ? -EINVAL : 0);
		}
	}
	nlh = msg_start(buf);
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:PREROUTING:bogus:1 ");
	assert_int_equal(nflog_decode(nlh, test_nm, &r), -EINVAL);
}

/*
 * A message whose length is not a multiple of 4, last in an exactly sized buffer: libmnl
 * walks attributes up to the aligned length, 3 bytes past this buffer, so the decoder
 * rejects it before the walk (the kernel's messages are aligned; the sanitizer twin of
 * this test catches an overread).
 */
static void test_unaligned_last_message(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh = msg_start(buf);
	struct trace_record r;
	char *exact;

	(void)state;
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:OUTPUT:rule:3 ");
	assert_int_equal(nflog_decode(nlh, test_nm, &r), 0);
	/*
	 * One stray byte after the last attribute: rounded up, the message would leave room
	 * for a 4-byte attribute header that the buffer does not have.
	 */
	buf[nlh->nlmsg_len] = 0;
	nlh->nlmsg_len += 1;
	exact = malloc(nlh->nlmsg_len);
	assert_non_null(exact);
	memcpy(exact, nlh, nlh->nlmsg_len);
	assert_int_equal(nflog_decode((struct nlmsghdr *)exact, test_nm, &r), -EINVAL);
	free(exact);
}

/* The replay guard: whole, aligned messages only, and no length can stall or wrap it. */
static void test_whole_msgs(void **state)
{
	uint32_t buf[16] = { 0 };
	struct nlmsghdr *a = (struct nlmsghdr *)buf, *b = (struct nlmsghdr *)(buf + 4);

	(void)state;
	a->nlmsg_len = 16;
	b->nlmsg_len = 21;	/* unaligned, last: its aligned 24 bytes are not all there */
	assert_int_equal(nlrec_whole_msgs(buf, 16 + 21), 16);
	assert_int_equal(nlrec_whole_msgs(buf, 16 + 24), 16 + 24);
	b->nlmsg_len = 0xffffffffu;	/* NLMSG_ALIGN() would wrap this to 0 and loop */
	assert_int_equal(nlrec_whole_msgs(buf, sizeof(buf)), 16);
	b->nlmsg_len = 0x80000000u;	/* negative for libmnl's (int) compare */
	assert_int_equal(nlrec_whole_msgs(buf, sizeof(buf)), 16);
	a->nlmsg_len = 8;		/* shorter than a header */
	assert_int_equal(nlrec_whole_msgs(buf, sizeof(buf)), 0);
}

static void test_minimal_no_payload(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh = msg_start(buf);
	struct trace_record r;

	(void)state;
	memset(&r, 0x5a, sizeof(r));
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: filter:INPUT:rule:12 ");
	mnl_attr_put_u32(nlh, NFULA_MARK, htonl(0x4000));
	assert_int_equal(nflog_decode(nlh, test_nm, &r), 0);
	assert_string_equal(r.table, "filter");
	assert_string_equal(r.chain, "INPUT");
	assert_int_equal(r.rulenum, 12);
	assert_int_equal(r.mark, 0x4000);
	assert_int_equal(r.pkt.family, 0);	/* no payload: nothing decoded, nothing stale */
	assert_int_equal(r.raw_len, 0);
	assert_false(r.has_seq);
	/* The resolver's fields come after the packet: stale pointers there crash the sinks. */
	assert_null(r.rule);
	assert_null(r.verdict);
	assert_null(r.rule_reason);
	assert_false(r.verdict_continues);
	assert_int_equal(r.recv_ns, 0);
}

/*
 * Netlink attributes are 4-byte aligned; NFULA_TIMESTAMP's struct holds be64s. Built so
 * the timestamp lands at 4 mod 8 (the _san build's UBSan catches a direct access).
 */
static void test_timestamp_unaligned(void **state)
{
	uint64_t buf[64];
	struct nlmsghdr *nlh = msg_start((char *)buf);
	struct nfulnl_msg_packet_timestamp ts = {
		.sec = htobe64(1700000000), .usec = htobe64(123456),
	};
	struct trace_record r;
	struct nlattr *a;

	(void)state;
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: filter:INPUT:rule:12 ");
	a = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put(nlh, NFULA_TIMESTAMP, sizeof(ts), &ts);
	assert_int_equal((uintptr_t)mnl_attr_get_payload(a) % 8, 4);
	assert_int_equal(nflog_decode(nlh, test_nm, &r), 0);
	assert_true(r.ts_ns == 1700000000123456000ull);
}

/*
 * A message claiming 2^31 bytes or more: libmnl's (int) comparison lets it through and
 * mnl_cb_run() walks out of the buffer (a corrupt --replay file crashed iptrace). The
 * message before it is still decoded; the broken one counts as malformed.
 */
static void test_dispatch_huge_len(void **state)
{
	uint64_t buf[64];
	struct nlmsghdr *nlh = msg_start((char *)buf), *bad;
	struct sink sink = { .ops = &sink_json_ops, .out = NULL };
	struct pipeline_cfg pc = { .window_ns = 1000, .no_group = true };
	struct pipeline *pl;
	struct summary sum;
	size_t len;

	(void)state;
	sink.out = fopen("/dev/null", "w");
	assert_non_null(sink.out);
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: filter:INPUT:rule:1 ");
	bad = (struct nlmsghdr *)((char *)buf + MNL_ALIGN(nlh->nlmsg_len));
	memcpy(bad, nlh, sizeof(*bad));
	bad->nlmsg_len = 0xfffffff0u;	/* (int) -16: mnl_nlmsg_next() adds 4 GiB */
	len = MNL_ALIGN(nlh->nlmsg_len) + 64;
	pl = pipeline_new(&pc, &sink);
	assert_non_null(pl);
	assert_int_equal(pipeline_dispatch(pl, NLREC_NFLOG, buf, len), 0);
	pipeline_summary(pl, &sum);
	assert_int_equal(sum.records, 1);
	assert_int_equal(sum.malformed, 1);
	pipeline_free(pl);
	fclose(sink.out);
}

static void test_prefix_parser(void **state)
{
	struct trace_record r;
	const char *ok = "TRACE: nat:KUBE-SEP-VQ37SWWSIRRGCSAM:rule:2 IN=weave";
	const char *long31 = "TRACE: filter:ABCDEFGHIJKLMNOPQRSTUVWXYZ01234:rule:12 ";
	const char *long32 = "TRACE: filter:ABCDEFGHIJKLMNOPQRSTUVWXYZ012345:rule:12 ";

	(void)state;
	assert_int_equal(trace_prefix_parse(ok, strlen(ok), test_nm, &r), 44);	/* with its space */
	assert_string_equal(r.chain, "KUBE-SEP-VQ37SWWSIRRGCSAM");
	assert_int_equal(trace_prefix_parse("TRACE: nat:X:rule: ", 19, test_nm, &r), -EINVAL);
	assert_int_equal(trace_prefix_parse("TRACE: nat::rule:1 ", 19, test_nm, &r), -EINVAL);
	assert_int_equal(trace_prefix_parse("TRACE: a", 8, test_nm, &r), -EINVAL);
	assert_int_equal(trace_prefix_parse("LOG: x", 6, test_nm, &r), -ENOMSG);
	assert_int_equal(trace_prefix_parse("TRACE: raw:OUTPUT:return:7", 26, test_nm, &r), 26);
	assert_int_equal(r.kind, TRACE_KIND_RETURN);
	/* Names up to TRACE_NAME_MAX - 1 bytes, none with a NUL, each ended by its ':'. */
	assert_int_equal(trace_prefix_parse(long31, strlen(long31), test_nm, &r), (int)strlen(long31));
	assert_string_equal(r.chain, "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234");
	assert_string_equal(r.table, "filter");
	assert_int_equal(r.kind, TRACE_KIND_RULE);
	assert_int_equal(r.rulenum, 12);
	assert_int_equal(trace_prefix_parse(long32, strlen(long32), test_nm, &r), -EINVAL);
	assert_int_equal(trace_prefix_parse("TRACE: ra\0w:X:rule:1 ", 21, test_nm, &r), -EINVAL);
	assert_int_equal(trace_prefix_parse("TRACE: raw:X", 12, test_nm, &r), -EINVAL);
	assert_int_equal(trace_prefix_parse("TRACE: raw:X:polic", 18, test_nm, &r), -EINVAL);
	assert_int_equal(trace_prefix_parse("TRACE: raw:X:rules:1", 20, test_nm, &r), -EINVAL);
	assert_int_equal(trace_prefix_parse("TRACE: raw:X:policy:4", 21, test_nm, &r), 21);
	assert_int_equal(r.kind, TRACE_KIND_POLICY);
}

/* Replayed chunks of any length come back whole and 4-byte aligned, across read blocks. */
static void test_nlrec_chunks(void **state)
{
	static const size_t lens[] = { 21, 24, 0, 300000, 7, 262144, 4 };
	char path[] = "/tmp/test-nlrec-XXXXXX";
	int fd = mkstemp(path);
	struct nlrec *w, *r;
	uint8_t *data = malloc(300000);
	const void *buf;
	uint16_t src;
	uint64_t ts;
	size_t len;

	(void)state;
	assert_true(fd >= 0 && data);
	close(fd);
	unlink(path);	/* nlrec_create() will not follow or reuse it */
	for (size_t i = 0; i < 300000; i++)
		data[i] = (uint8_t)(i * 7 + 1);
	w = nlrec_create(path);
	assert_non_null(w);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		assert_int_equal(nlrec_write(w, (uint16_t)(i + 1), i * 10, data, lens[i]), 0);
	assert_int_equal(nlrec_close(w), 0);
	r = nlrec_open(path);
	assert_non_null(r);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		assert_int_equal(nlrec_next(r, &src, &ts, &buf, &len), 1);
		assert_int_equal(src, i + 1);
		assert_int_equal(ts, i * 10);
		assert_int_equal(len, lens[i]);
		assert_int_equal((uintptr_t)buf % 4, 0);
		assert_memory_equal(buf, data, len);
	}
	assert_int_equal(nlrec_next(r, &src, &ts, &buf, &len), 0);
	nlrec_close(r);
	/* In batches of up to 3: the same chunks, each valid until the next call. */
	r = nlrec_open(path);
	assert_non_null(r);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]);) {
		struct nlrec_chunk c[3];
		int n = nlrec_next_batch(r, c, 3);

		assert_true(n >= 1 && n <= 3);
		for (int k = 0; k < n; k++, i++) {
			assert_int_equal(c[k].source, i + 1);
			assert_int_equal(c[k].ts_ns, i * 10);
			assert_int_equal(c[k].len, lens[i]);
			assert_int_equal((uintptr_t)c[k].buf % 4, 0);
			assert_memory_equal(c[k].buf, data, c[k].len);
		}
	}
	{
		struct nlrec_chunk c[3];

		assert_int_equal(nlrec_next_batch(r, c, 3), 0);
	}
	nlrec_close(r);
	/* Cut inside the last chunk: corrupt, not a clean end. */
	assert_int_equal(truncate(path, 8 + 16 + 21 + 16 + 10), 0);
	r = nlrec_open(path);
	assert_non_null(r);
	assert_int_equal(nlrec_next(r, &src, &ts, &buf, &len), 1);
	assert_int_equal(nlrec_next(r, &src, &ts, &buf, &len), -EINVAL);
	nlrec_close(r);
	r = nlrec_open(path);
	assert_non_null(r);
	{
		struct nlrec_chunk c[3];

		assert_int_equal(nlrec_next_batch(r, c, 3), 1);
		assert_int_equal(nlrec_next_batch(r, c, 3), -EINVAL);
	}
	nlrec_close(r);
	unlink(path);
	free(data);
}

/* A message as the kernel builds it (its order of attributes), every one the decoder reads. */
static struct nlmsghdr *kernel_msg(char *buf, uint8_t hook, const void *pk, size_t pklen)
{
	struct nfulnl_msg_packet_hdr ph = { .hw_protocol = htons(0x0800), .hook = hook };
	struct nfulnl_msg_packet_hw hw = { .hw_addrlen = htons(6),
					   .hw_addr = { 2, 0, 0, 0, 1, 2 } };
	struct nfulnl_msg_packet_timestamp ts = { .sec = htobe64(1700000000),
						  .usec = htobe64(123456) };
	uint8_t mac[14] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 8, 0 };
	struct nlmsghdr *nlh = msg_start(buf);

	mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof(ph), &ph);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: nat:KUBE-SEP-DNS:rule:2 ");
	mnl_attr_put_u32(nlh, NFULA_IFINDEX_INDEV, htonl(2));
	mnl_attr_put_u32(nlh, NFULA_IFINDEX_PHYSINDEV, htonl(4));
	mnl_attr_put_u32(nlh, NFULA_IFINDEX_OUTDEV, htonl(3));
	mnl_attr_put_u32(nlh, NFULA_IFINDEX_PHYSOUTDEV, htonl(5));
	mnl_attr_put_u32(nlh, NFULA_MARK, htonl(0x4000));
	mnl_attr_put(nlh, NFULA_HWADDR, sizeof(hw), &hw);
	mnl_attr_put_u16(nlh, NFULA_HWTYPE, htons(1));
	mnl_attr_put_u16(nlh, NFULA_HWLEN, htons(14));
	mnl_attr_put(nlh, NFULA_HWHEADER, sizeof(mac), mac);
	mnl_attr_put(nlh, NFULA_TIMESTAMP, sizeof(ts), &ts);
	mnl_attr_put_u32(nlh, NFULA_UID, htonl(1000));
	mnl_attr_put_u32(nlh, NFULA_GID, htonl(1000));
	mnl_attr_put_u32(nlh, NFULA_SEQ, htonl(41));
	mnl_attr_put_u32(nlh, NFULA_SEQ_GLOBAL, htonl(99));
	mnl_attr_put(nlh, NFULA_PAYLOAD, pklen, pk);
	return nlh;
}

/* A UDP datagram 10.0.1.2:12345 -> 10.0.2.7:53 with 8 bytes of payload, TTL 64, ID 1. */
static const uint8_t udp4[36] = {
	0x45, 0, 0, 36, 0, 1, 0, 0, 64, IPPROTO_UDP, 0, 0, 10, 0, 1, 2, 10, 0, 2, 7,
	0x30, 0x39, 0, 53, 0, 16, 0, 0, 'p', 'a', 'y', 'l', 'o', 'a', 'd', '!',
};

/*
 * Decode @nlh into a record first filled with @fill, so a byte the decoder leaves unwritten
 * shows: records of one message are equal whatever the memory held (the grouper and the
 * sinks compare records as bytes).
 */
static int decode_over(const struct nlmsghdr *nlh, struct trace_record *r, int fill)
{
	memset(r, fill, sizeof(*r));
	return nflog_decode(nlh, test_nm, r);
}

static void assert_same_record(const struct trace_record *a, const struct trace_record *b)
{
	assert_memory_equal(a, b, offsetof(struct trace_record, raw));
	assert_memory_equal(a->raw, b->raw, a->raw_len);
}

/* Every field the decoder fills, from a message with every attribute it reads. */
static void test_all_fields(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh = kernel_msg(buf, NF_INET_FORWARD, udp4, sizeof(udp4));
	struct trace_record r, z;
	char a[INET_ADDRSTRLEN];

	(void)state;
	assert_int_equal(decode_over(nlh, &r, 0xa5), 0);
	assert_int_equal(r.backend, TRACE_BACKEND_LEGACY);
	assert_string_equal(r.table, "nat");
	assert_string_equal(r.chain, "KUBE-SEP-DNS");
	assert_int_equal(r.kind, TRACE_KIND_RULE);
	assert_int_equal(r.rulenum, 2);
	assert_int_equal(r.hook, HOOK_FORWARD);
	assert_int_equal(r.nfproto, AF_INET);
	assert_true(r.ts_ns == 1700000000123456000ull);
	assert_int_equal(r.ifindex_in, 2);
	assert_int_equal(r.ifindex_out, 3);
	assert_int_equal(r.ifindex_physin, 4);
	assert_int_equal(r.ifindex_physout, 5);
	assert_string_equal(r.in, "");		/* the caller names interfaces */
	assert_string_equal(r.physout, "");
	assert_int_equal(r.mark, 0x4000);
	assert_true(r.has_uid);			/* the local socket's owner */
	assert_int_equal(r.uid, 1000);
	assert_int_equal(r.gid, 1000);
	assert_true(r.has_seq);
	assert_int_equal(r.seq, 41);		/* the instance's, not the global one */
	assert_int_equal(r.hw_type, 1);
	assert_int_equal(r.hw_len, 14);
	assert_memory_equal(r.hw, "\1\2\3\4\5\6\7\10\11\12\13\14\10\0", 14);
	assert_int_equal(r.raw_len, sizeof(udp4));
	assert_memory_equal(r.raw, udp4, sizeof(udp4));
	assert_int_equal(r.pkt.family, AF_INET);
	assert_int_equal(r.pkt.proto, IPPROTO_UDP);
	assert_int_equal(r.pkt.ttl, 64);
	assert_int_equal(r.pkt.ipid, 1);
	assert_int_equal(r.pkt.sport, 12345);
	assert_int_equal(r.pkt.dport, 53);
	inet_ntop(AF_INET, &r.pkt.daddr, a, sizeof(a));
	assert_string_equal(a, "10.0.2.7");
	assert_true(r.pkt.payload_hash != 0);
	/* Nothing of nft's or the resolver's. */
	assert_int_equal(r.handle, 0);
	assert_int_equal(r.trace_id, 0);
	assert_false(r.has_verdict || r.has_policy || r.has_ct || r.has_hdr || r.has_prio);
	assert_null(r.rule);
	assert_null(r.verdict);
	assert_null(r.rule_reason);
	assert_int_equal(r.recv_ns, 0);
	/* The same message over other memory: the same bytes, the padding too. */
	assert_int_equal(decode_over(nlh, &z, 0), 0);
	assert_same_record(&r, &z);
}

/*
 * The socket owner ends the kernel's TRACE line before the mark (nf_log_dump_sk_uid_gid(),
 * NF_LOG_UID is in the TRACE loginfo's flags), and --read takes it back.
 */
static void test_owner_in_log_line(void **state)
{
	char buf[512], line[1024];
	struct nlmsghdr *nlh = kernel_msg(buf, NF_INET_FORWARD, udp4, sizeof(udp4));
	struct trace_record r, back;
	FILE *f = fmemopen(line, sizeof(line), "w");
	const char *tail;

	(void)state;
	assert_int_equal(nflog_decode(nlh, test_nm, &r), 0);
	assert_non_null(f);
	assert_int_equal(logline_format(f, &r), 0);
	assert_int_equal(fclose(f), 0);
	tail = strstr(line, " PROTO=UDP ");
	assert_non_null(tail);
	assert_string_equal(tail, " PROTO=UDP SPT=12345 DPT=53 LEN=16 UID=1000 GID=1000 MARK=0x4000 ");
	assert_int_equal(logline_parse(line, strlen(line), test_nm, &back), 0);
	assert_true(back.has_uid);
	assert_int_equal(back.uid, 1000);
	assert_int_equal(back.gid, 1000);
	assert_int_equal(back.mark, 0x4000);
	/* No owner (a forwarded packet): no UID=. */
	r.has_uid = false;
	f = fmemopen(line, sizeof(line), "w");
	assert_int_equal(logline_format(f, &r), 0);
	assert_int_equal(fclose(f), 0);
	assert_null(strstr(line, "UID="));
}

/* HWLEN cuts the MAC header it exceeds not; TRACE_HW_MAX cuts a longer one; hook 7 is none. */
static void test_hw_and_hook(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh = kernel_msg(buf, 7, udp4, sizeof(udp4));
	struct nlattr *a;
	struct trace_record r;
	uint8_t big[40];

	(void)state;
	assert_int_equal(nflog_decode(nlh, test_nm, &r), 0);
	assert_int_equal(r.hook, HOOK_NONE);
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFULA_HWLEN)
			*(uint16_t *)mnl_attr_get_payload(a) = htons(6);
	assert_int_equal(nflog_decode(nlh, test_nm, &r), 0);
	assert_int_equal(r.hw_len, 6);
	assert_memory_equal(r.hw, "\1\2\3\4\5\6\0\0\0\0\0\0\0\0", 14);
	/* No HWLEN, a 40-byte header: the first 32. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	nlh = msg_start(buf);
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:PREROUTING:policy:1 ");
	mnl_attr_put(nlh, NFULA_HWHEADER, sizeof(big), big);
	assert_int_equal(nflog_decode(nlh, test_nm, &r), 0);
	assert_int_equal(r.hw_len, TRACE_HW_MAX);
	assert_memory_equal(r.hw, big, TRACE_HW_MAX);
	assert_int_equal(r.hw_type, 0);
}

/* The packet: kept up to TRACE_RAW_MAX bytes, decoded as the nfgenmsg family says. */
static void test_payload(void **state)
{
	char buf[1024];
	uint8_t big[300];
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	struct trace_record r;

	(void)state;
	memset(big, 0, sizeof(big));
	memcpy(big, udp4, sizeof(udp4));
	big[2] = sizeof(big) >> 8;	/* total length 300 */
	big[3] = sizeof(big) & 0xff;
	nlh = kernel_msg(buf, 0, big, sizeof(big));
	assert_int_equal(nflog_decode(nlh, test_nm, &r), 0);
	assert_int_equal(r.raw_len, TRACE_RAW_MAX);
	assert_memory_equal(r.raw, big, TRACE_RAW_MAX);
	assert_int_equal(r.pkt.len, sizeof(big));
	assert_int_equal(r.pkt.dport, 53);
	/* The same bytes told IPv6: not an IPv6 header, nothing decoded, the bytes kept. */
	nfg = mnl_nlmsg_get_payload(nlh);
	nfg->nfgen_family = AF_INET6;
	assert_int_equal(nflog_decode(nlh, test_nm, &r), 0);
	assert_int_equal(r.nfproto, AF_INET6);
	assert_int_equal(r.pkt.family, 0);
	assert_int_equal(r.pkt.dport, 0);
	assert_int_equal(r.raw_len, TRACE_RAW_MAX);
	/* Family 0 (bridge-like): the version nibble decides. */
	nfg->nfgen_family = 0;
	assert_int_equal(nflog_decode(nlh, test_nm, &r), 0);
	assert_int_equal(r.pkt.family, AF_INET);
	/* An empty payload: no bytes, nothing decoded. */
	nlh = kernel_msg(buf, 0, big, 0);
	assert_int_equal(nflog_decode(nlh, test_nm, &r), 0);
	assert_int_equal(r.raw_len, 0);
	assert_int_equal(r.pkt.family, 0);
}

/*
 * The last of a repeated attribute counts, and every prefix must be NUL-terminated, the
 * ones that do not count too.
 */
static void test_two_prefixes(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh = msg_start(buf);
	struct trace_record r;

	(void)state;
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:OUTPUT:rule:1 ");
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: filter:INPUT:return:7 ");
	assert_int_equal(nflog_decode(nlh, test_nm, &r), 0);
	assert_string_equal(r.table, "filter");
	assert_string_equal(r.chain, "INPUT");
	assert_int_equal(r.kind, TRACE_KIND_RETURN);
	assert_int_equal(r.rulenum, 7);
	((char *)memmem(nlh, nlh->nlmsg_len, "rule:1 ", 8))[7] = 'x';	/* the first's NUL */
	assert_int_equal(nflog_decode(nlh, test_nm, &r), -EINVAL);
	nlh = msg_start(buf);
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:OUTPUT:rule:1 ");
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "LOG ");
	assert_int_equal(nflog_decode(nlh, test_nm, &r), -ENOMSG);	/* the last one is not TRACE */
	((char *)memmem(nlh, nlh->nlmsg_len, "LOG ", 5))[4] = 'x';
	assert_int_equal(nflog_decode(nlh, test_nm, &r), -EINVAL);
}

/* A prefix must be non-empty and end with its NUL; one that is only a NUL is not TRACE. */
static void test_prefix_nul(void **state)
{
	static const char text[] = "TRACE: raw:PREROUTING:policy:1 ";
	char buf[512];
	struct nlmsghdr *nlh;
	struct trace_record r;

	(void)state;
	nlh = msg_start(buf);
	put_hdr(nlh);
	mnl_attr_put(nlh, NFULA_PREFIX, sizeof(text) - 1, text);	/* no NUL */
	assert_int_equal(nflog_decode(nlh, test_nm, &r), -EINVAL);
	nlh = msg_start(buf);
	put_hdr(nlh);
	mnl_attr_put(nlh, NFULA_PREFIX, 0, NULL);
	assert_int_equal(nflog_decode(nlh, test_nm, &r), -EINVAL);
	nlh = msg_start(buf);
	put_hdr(nlh);
	mnl_attr_put(nlh, NFULA_PREFIX, 1, "");
	assert_int_equal(nflog_decode(nlh, test_nm, &r), -ENOMSG);
	/* The parser stops at the NUL: what the padding after it holds does not count. */
	nlh = msg_start(buf);
	put_hdr(nlh);
	mnl_attr_put(nlh, NFULA_PREFIX, sizeof("TRACE: raw:OUTPUT:rule:3\0zz"),
		     "TRACE: raw:OUTPUT:rule:3\0zz");
	assert_int_equal(nflog_decode(nlh, test_nm, &r), 0);
	assert_int_equal(r.rulenum, 3);
}

/*
 * A truncated attribute (longer than what is left of the message, or shorter than its own
 * header) ends the walk: what came before counts, nothing after it is read.
 */
static void test_truncated_attr(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh = kernel_msg(buf, 0, udp4, sizeof(udp4));
	struct nlattr *bad;
	struct trace_record r;

	(void)state;
	nlh->nlmsg_len -= 8;	/* into the payload, the last attribute */
	assert_int_equal(nflog_decode(nlh, test_nm, &r), 0);
	assert_int_equal(r.raw_len, 0);
	assert_int_equal(r.pkt.family, 0);
	assert_int_equal(r.seq, 41);	/* the attributes before it */
	/* The prefix last, cut: as if missing. */
	nlh = msg_start(buf);
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:PREROUTING:policy:1 ");
	nlh->nlmsg_len -= 4;
	assert_int_equal(nflog_decode(nlh, test_nm, &r), -EINVAL);
	/* An attribute claiming 2 bytes, less than its header: the prefix after it is unseen. */
	nlh = msg_start(buf);
	put_hdr(nlh);
	bad = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put_u32(nlh, NFULA_MARK, htonl(1));
	bad->nla_len = 2;
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:PREROUTING:policy:1 ");
	assert_int_equal(nflog_decode(nlh, test_nm, &r), -EINVAL);
}

/* Types beyond what the library knows, of any size, are skipped: the record is the same. */
static void test_unknown_types(void **state)
{
	char a[512], b[512];
	struct nlmsghdr *x = kernel_msg(a, 0, udp4, sizeof(udp4));
	struct nlmsghdr *y = msg_start(b);
	struct trace_record rx, ry;
	struct nlattr *at;

	(void)state;
	/* y: x's attributes, with unknown ones of odd sizes among them. */
	mnl_attr_put(y, NFULA_MAX + 1, 3, "abc");
	mnl_attr_for_each(at, x, sizeof(struct nfgenmsg)) {
		mnl_attr_put(y, mnl_attr_get_type(at), mnl_attr_get_payload_len(at),
			     mnl_attr_get_payload(at));
		mnl_attr_put(y, 40, 1, "z");
	}
	mnl_attr_put(y, (uint16_t)NLA_TYPE_MASK, 5, "vwxyz");
	assert_true(y->nlmsg_len > x->nlmsg_len);
	assert_int_equal(decode_over(x, &rx, 0x11), 0);
	assert_int_equal(decode_over(y, &ry, 0x22), 0);
	assert_same_record(&rx, &ry);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recorded_records),
		cmocka_unit_test(test_recorded_pipeline),
		cmocka_unit_test(test_sequence_gaps),
		cmocka_unit_test(test_not_trace),
		cmocka_unit_test(test_missing_attrs),
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_minimal_no_payload),
		cmocka_unit_test(test_unaligned_last_message),
		cmocka_unit_test(test_whole_msgs),
		cmocka_unit_test(test_timestamp_unaligned),
		cmocka_unit_test(test_dispatch_huge_len),
		cmocka_unit_test(test_prefix_parser),
		cmocka_unit_test(test_all_fields),
		cmocka_unit_test(test_owner_in_log_line),
		cmocka_unit_test(test_hw_and_hook),
		cmocka_unit_test(test_payload),
		cmocka_unit_test(test_two_prefixes),
		cmocka_unit_test(test_prefix_nul),
		cmocka_unit_test(test_truncated_attr),
		cmocka_unit_test(test_unknown_types),
		cmocka_unit_test(test_nlrec_chunks),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, names_setup, names_teardown);
}
