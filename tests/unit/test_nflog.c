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
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

#include "iptrace/nflog.h"
#include "iptrace/nlrec.h"
#include "iptrace/pipeline.h"

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
	int ret = nflog_decode(nlh, &r);

	if (ret == -ENOMSG) {
		c->other++;
		return MNL_CB_OK;
	}
	assert_int_equal(ret, 0);
	assert_true(c->n < 64);
	c->recs[c->n++] = r;
	return MNL_CB_OK;
}

static void load(struct collected *c)
{
	struct nlrec *r = nlrec_open(REC_FILE);
	const void *buf;
	uint16_t src;
	uint64_t ts;
	size_t len;

	assert_non_null(r);
	memset(c, 0, sizeof(*c));
	while (nlrec_next(r, &src, &ts, &buf, &len) > 0) {
		assert_int_equal(src, NLREC_NFLOG);
		assert_true(mnl_cb_run(buf, len, 0, 0, collect_cb, c) >= 0);
	}
	nlrec_close(r);
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
		assert_true(r->raw_len >= 28);
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
	struct nlrec *r = nlrec_open(REC_FILE);
	char *buf = NULL;
	size_t size = 0, len;
	FILE *f = open_memstream(&buf, &size);
	struct sink sink = { .ops = &sink_json_ops, .out = f };
	struct pipeline_cfg pc = { .window_ns = 250000000ull };
	struct pipeline *pl;
	const void *chunk;
	uint16_t src;
	uint64_t ts;
	int packets = 0;

	(void)state;
	assert_non_null(r);
	pl = pipeline_new(&pc, &sink);
	assert_non_null(pl);
	while (nlrec_next(r, &src, &ts, &chunk, &len) > 0) {
		pipeline_set_clock(pl, ts, 0);
		pipeline_tick(pl);
		assert_int_equal(pipeline_dispatch(pl, src, chunk, len), 0);
	}
	assert_int_equal(pipeline_finish(pl, NULL), 0);
	pipeline_free(pl);
	nlrec_close(r);
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
	assert_int_equal(nflog_decode(nlh, &r), -ENOMSG);
}

static void test_missing_attrs(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh = msg_start(buf);
	struct trace_record r;

	(void)state;
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:PREROUTING:policy:1 ");
	assert_int_equal(nflog_decode(nlh, &r), -EINVAL);	/* no PACKET_HDR */
	nlh = msg_start(buf);
	put_hdr(nlh);
	assert_int_equal(nflog_decode(nlh, &r), -EINVAL);	/* no PREFIX */
}

static void test_bad_sizes(void **state)
{
	char buf[512];
	struct nlmsghdr *nlh = msg_start(buf);
	struct trace_record r;
	uint16_t small = 1;

	(void)state;
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:PREROUTING:policy:1 ");
	mnl_attr_put(nlh, NFULA_MARK, sizeof(small), &small);	/* u32 expected */
	assert_int_equal(nflog_decode(nlh, &r), -EINVAL);
	nlh = msg_start(buf);
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:PREROUTING:bogus:1 ");
	assert_int_equal(nflog_decode(nlh, &r), -EINVAL);
}

/*
 * A message whose length is not a multiple of 4, last in an exactly sized buffer: the
 * attribute walk must end at nlmsg_len, not at its aligned size (3 bytes past the buffer;
 * the sanitizer twin of this test catches the overread).
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
	/*
	 * One stray byte after the last attribute: rounded up, the message would leave room
	 * for a 4-byte attribute header that the buffer does not have.
	 */
	buf[nlh->nlmsg_len] = 0;
	nlh->nlmsg_len += 1;
	exact = malloc(nlh->nlmsg_len);
	assert_non_null(exact);
	memcpy(exact, nlh, nlh->nlmsg_len);
	assert_int_equal(nflog_decode((struct nlmsghdr *)exact, &r), 0);
	assert_string_equal(r.chain, "OUTPUT");
	assert_int_equal(r.rulenum, 3);
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
	assert_int_equal(nflog_decode(nlh, &r), 0);
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
	assert_int_equal(nflog_decode(nlh, &r), 0);
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

	(void)state;
	assert_int_equal(trace_prefix_parse(ok, strlen(ok), &r), 44);	/* with its space */
	assert_string_equal(r.chain, "KUBE-SEP-VQ37SWWSIRRGCSAM");
	assert_int_equal(trace_prefix_parse("TRACE: nat:X:rule: ", 19, &r), -EINVAL);
	assert_int_equal(trace_prefix_parse("TRACE: nat::rule:1 ", 19, &r), -EINVAL);
	assert_int_equal(trace_prefix_parse("TRACE: a", 8, &r), -EINVAL);
	assert_int_equal(trace_prefix_parse("LOG: x", 6, &r), -ENOMSG);
	assert_int_equal(trace_prefix_parse("TRACE: raw:OUTPUT:return:7", 26, &r), 26);
	assert_int_equal(r.kind, TRACE_KIND_RETURN);
}

/* The memo gives what parsing gives, for every prefix, however often and in whatever order. */
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

/* The memo (kinds of message, the last packet) gives what decoding afresh gives. */
static void same_as_fresh(struct nflog_memo *m, const struct nlmsghdr *nlh)
{
	struct trace_record a, b;
	int ra = nflog_decode(nlh, &a), rb = nflog_decode_memo(nlh, &b, m);

	assert_int_equal(ra, rb);
	if (ra == 0) {
		assert_memory_equal(&a, &b, offsetof(struct trace_record, raw));
		assert_int_equal(a.raw_len, b.raw_len);
		assert_memory_equal(a.raw, b.raw, a.raw_len);
	}
}

static void test_decode_memo(void **state)
{
	struct nflog_memo *m = nflog_memo_new();
	struct nlrec *r = nlrec_open(REC_FILE);
	const void *chunk;
	uint16_t src;
	uint64_t ts;
	size_t len;
	char buf[512];
	struct nlmsghdr *nlh;
	struct trace_record rec;
	uint32_t mark = htonl(7);

	(void)state;
	assert_non_null(m);
	assert_non_null(r);
	/* The recording, twice: the second pass finds every shape and prefix in the memo. */
	for (int pass = 0; pass < 2; pass++) {
		while (nlrec_next(r, &src, &ts, &chunk, &len) > 0) {
			size_t off = 0;

			while (off + sizeof(struct nlmsghdr) <= len) {
				const struct nlmsghdr *h = (const void *)((const char *)chunk + off);

				same_as_fresh(m, h);
				off += NLMSG_ALIGN(h->nlmsg_len);
			}
		}
		nlrec_close(r);
		r = nlrec_open(REC_FILE);
		assert_non_null(r);
	}
	nlrec_close(r);

	/* One shape, other contents: the record follows the contents. */
	nlh = msg_start(buf);
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:PREROUTING:policy:1 ");
	mnl_attr_put(nlh, NFULA_MARK, sizeof(mark), &mark);
	same_as_fresh(m, nlh);
	assert_int_equal(nflog_decode_memo(nlh, &rec, m), 0);
	assert_int_equal(rec.mark, 7);
	mark = htonl(9);
	memcpy(mnl_attr_get_payload((struct nlattr *)((char *)nlh + nlh->nlmsg_len - 8)), &mark,
	       sizeof(mark));
	((char *)memmem(nlh, nlh->nlmsg_len, "raw:", 4))[0] = 'w';	/* "waw": same length */
	same_as_fresh(m, nlh);
	assert_int_equal(nflog_decode_memo(nlh, &rec, m), 0);
	assert_int_equal(rec.mark, 9);
	assert_string_equal(rec.table, "waw");
	/* Same shape, but the prefix lost its NUL: rejected, as the walk rejects it. */
	((char *)memmem(nlh, nlh->nlmsg_len, "policy:1 ", 9))[9] = 'x';
	same_as_fresh(m, nlh);
	assert_int_equal(nflog_decode_memo(nlh, &rec, m), -EINVAL);
	/* Same length, one header different (a u16 where a u32 belongs): walked, rejected. */
	len = nlh->nlmsg_len;
	nlh = msg_start(buf);
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:PREROUTING:policy:1 ");
	mnl_attr_put_u16(nlh, NFULA_MARK, 1);	/* padded to the same 8 bytes */
	assert_int_equal(nlh->nlmsg_len, len);
	same_as_fresh(m, nlh);
	assert_int_equal(nflog_decode_memo(nlh, &rec, m), -EINVAL);
	/*
	 * Two prefixes (the last one counts): the walk checks the NUL of each. Learnt with
	 * both terminated, then the first one loses its NUL: rejected by the memo too.
	 */
	nlh = msg_start(buf);
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "first");
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:PREROUTING:policy:1 ");
	same_as_fresh(m, nlh);
	assert_int_equal(nflog_decode_memo(nlh, &rec, m), 0);
	((char *)memmem(nlh, nlh->nlmsg_len, "first", 6))[5] = 'x';
	same_as_fresh(m, nlh);
	assert_int_equal(nflog_decode_memo(nlh, &rec, m), -EINVAL);
	nflog_memo_free(m);
}

/* The last packet's decoding is reused only for the same bytes, length and family. */
static void test_decode_memo_pkt(void **state)
{
	struct nflog_memo *m = nflog_memo_new();
	uint8_t ip[36] = { 0x45, 0, 0, 36, 0, 1, 0, 0, 64, IPPROTO_UDP, 0, 0, 10, 0, 0, 1,
			   10, 0, 0, 2, 0x30, 0x39, 0, 53, 0, 16, 0, 0, 'p', 'a', 'y', 'l',
			   'o', 'a', 'd', '!' };
	char buf[512];
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	struct trace_record a, b;
	uint8_t *pk;

	(void)state;
	assert_non_null(m);
	nlh = msg_start(buf);
	put_hdr(nlh);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:PREROUTING:policy:1 ");
	mnl_attr_put(nlh, NFULA_PAYLOAD, sizeof(ip), ip);
	nfg = mnl_nlmsg_get_payload(nlh);
	pk = memmem(nlh, nlh->nlmsg_len, ip, sizeof(ip));
	assert_non_null(pk);
	same_as_fresh(m, nlh);
	same_as_fresh(m, nlh);	/* the same bytes again */
	assert_int_equal(nflog_decode_memo(nlh, &a, m), 0);
	assert_int_equal(a.pkt.dport, 53);
	pk[sizeof(ip) - 1] = '?';	/* the payload, so its hash, differs */
	same_as_fresh(m, nlh);
	assert_int_equal(nflog_decode_memo(nlh, &b, m), 0);
	assert_int_not_equal(a.pkt.payload_hash, b.pkt.payload_hash);
	nfg->nfgen_family = AF_INET6;	/* the same bytes, told another family: no header */
	same_as_fresh(m, nlh);
	assert_int_equal(nflog_decode_memo(nlh, &b, m), 0);
	assert_int_equal(b.pkt.family, 0);
	nfg->nfgen_family = AF_INET;
	same_as_fresh(m, nlh);
	nflog_memo_free(m);
}

/* A message as the kernel builds it at PREROUTING, with @ph's hook and @pk as its packet. */
static struct nlmsghdr *kernel_msg(char *buf, uint8_t hook, uint16_t hwtype, uint16_t hwlen,
				   const void *pk, size_t pklen)
{
	struct nfulnl_msg_packet_hdr ph = { .hw_protocol = htons(0x0800), .hook = hook };
	struct nfulnl_msg_packet_timestamp ts = { .sec = htobe64(1700000000),
						  .usec = htobe64(123456) };
	uint8_t mac[14] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 8, 0 };
	struct nlmsghdr *nlh = msg_start(buf);

	mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof(ph), &ph);
	mnl_attr_put_strz(nlh, NFULA_PREFIX, "TRACE: raw:PREROUTING:policy:3 ");
	mnl_attr_put_u32(nlh, NFULA_IFINDEX_INDEV, htonl(2));
	mnl_attr_put_u16(nlh, NFULA_HWTYPE, htons(hwtype));
	mnl_attr_put_u16(nlh, NFULA_HWLEN, htons(hwlen));
	mnl_attr_put(nlh, NFULA_HWHEADER, sizeof(mac), mac);
	mnl_attr_put(nlh, NFULA_TIMESTAMP, sizeof(ts), &ts);
	mnl_attr_put_u32(nlh, NFULA_SEQ, htonl(41));
	mnl_attr_put(nlh, NFULA_PAYLOAD, pklen, pk);
	return nlh;
}

/*
 * Messages of one shape and prefix whose other keyed bytes differ (the hook, the family,
 * HWTYPE, HWLEN), each after the one they differ from: none is taken for the other.
 */
static void test_decode_memo_keyed(void **state)
{
	struct nflog_memo *m = nflog_memo_new();
	uint8_t ip[28] = { 0x45, 0, 0, 28, 0, 1, 0, 0, 64, IPPROTO_UDP, 0, 0, 10, 0, 0, 1,
			   10, 0, 0, 2, 0x30, 0x39, 0, 53, 0, 8, 0, 0 };
	char buf[512];
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	struct trace_record rec;

	(void)state;
	assert_non_null(m);
	for (int variant = 0; variant < 5; variant++) {
		nlh = kernel_msg(buf, 0, 1, 14, ip, sizeof(ip));
		same_as_fresh(m, nlh);
		assert_int_equal(nflog_decode_memo(nlh, &rec, m), 0);
		assert_int_equal(rec.hook, HOOK_PREROUTING);
		assert_int_equal(rec.hw_type, 1);
		assert_int_equal(rec.hw_len, 14);
		assert_int_equal(rec.seq, 41);
		assert_true(rec.has_seq);
		assert_int_equal(rec.ts_ns, 1700000000123456000ull);
		switch (variant) {
		case 0:
			nlh = kernel_msg(buf, 1, 1, 14, ip, sizeof(ip));
			same_as_fresh(m, nlh);
			assert_int_equal(nflog_decode_memo(nlh, &rec, m), 0);
			assert_int_equal(rec.hook, HOOK_INPUT);
			break;
		case 1:
			nlh = kernel_msg(buf, 7, 1, 14, ip, sizeof(ip));	/* not a hook */
			same_as_fresh(m, nlh);
			assert_int_equal(nflog_decode_memo(nlh, &rec, m), 0);
			assert_int_equal(rec.hook, HOOK_NONE);
			break;
		case 2:
			nlh = kernel_msg(buf, 0, 772, 14, ip, sizeof(ip));
			same_as_fresh(m, nlh);
			assert_int_equal(nflog_decode_memo(nlh, &rec, m), 0);
			assert_int_equal(rec.hw_type, 772);
			break;
		case 3:
			nlh = kernel_msg(buf, 0, 1, 6, ip, sizeof(ip));	/* fewer MAC bytes */
			same_as_fresh(m, nlh);
			assert_int_equal(nflog_decode_memo(nlh, &rec, m), 0);
			assert_int_equal(rec.hw_len, 6);
			assert_memory_equal(rec.hw, "\1\2\3\4\5\6\0\0\0\0\0\0\0\0", 14);
			break;
		case 4:
			nfg = mnl_nlmsg_get_payload(nlh);
			nfg->nfgen_family = AF_INET6;	/* the same bytes: no IPv6 header */
			same_as_fresh(m, nlh);
			assert_int_equal(nflog_decode_memo(nlh, &rec, m), 0);
			assert_int_equal(rec.nfproto, AF_INET6);
			assert_int_equal(rec.pkt.family, 0);
			break;
		}
	}
	nflog_memo_free(m);
}

/*
 * The packet of the last record forwarded: a new TTL and IPv4 header checksum, or IPv6 hop
 * limit, decode to the last packet's fields with the new TTL. Any other byte changed too
 * is decoded afresh.
 */
static void test_decode_memo_forwarded(void **state)
{
	struct nflog_memo *m = nflog_memo_new();
	uint8_t ip[36] = { 0x45, 0, 0, 36, 0, 1, 0, 0, 64, IPPROTO_UDP, 0x12, 0x34, 10, 0, 0, 1,
			   10, 0, 0, 2, 0x30, 0x39, 0, 53, 0, 16, 0, 0, 'p', 'a', 'y', 'l',
			   'o', 'a', 'd', '!' };
	uint8_t ip6[48] = { 0x60, 0, 0, 0, 0, 8, IPPROTO_UDP, 64, [8] = 0x20, [9] = 1,
			    [23] = 1, [24] = 0x20, [25] = 1, [39] = 2, 0x30, 0x39, 0, 53,
			    0, 8, 0, 0 };
	char buf[512];
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	struct trace_record rec;
	uint8_t *pk;

	(void)state;
	assert_non_null(m);
	nlh = kernel_msg(buf, 0, 1, 14, ip, sizeof(ip));
	pk = memmem(nlh, nlh->nlmsg_len, ip, sizeof(ip));
	assert_non_null(pk);
	same_as_fresh(m, nlh);
	pk[8] = 63;	/* forwarded */
	pk[10] = 0x13;
	same_as_fresh(m, nlh);
	assert_int_equal(nflog_decode_memo(nlh, &rec, m), 0);
	assert_int_equal(rec.pkt.ttl, 63);
	assert_int_equal(rec.pkt.dport, 53);
	pk[8] = 64;	/* back as it was: the memo holds the forwarded bytes now */
	pk[10] = 0x12;
	same_as_fresh(m, nlh);
	pk[11] = 0x35;
	same_as_fresh(m, nlh);
	pk[8] = 62;	/* and its ID */
	pk[5] = 2;
	same_as_fresh(m, nlh);
	assert_int_equal(nflog_decode_memo(nlh, &rec, m), 0);
	assert_int_equal(rec.pkt.ttl, 62);
	assert_int_equal(rec.pkt.ipid, 2);
	pk[8] = 61;	/* and a payload byte */
	pk[sizeof(ip) - 1] = '?';
	same_as_fresh(m, nlh);
	pk[9] = IPPROTO_TCP;	/* the protocol: not a TTL */
	same_as_fresh(m, nlh);
	pk[0] = 0x55;	/* a longer header, short of bytes: not IPv4, then the TTL byte */
	same_as_fresh(m, nlh);
	pk[8] = 60;
	same_as_fresh(m, nlh);

	nlh = kernel_msg(buf, 0, 1, 14, ip6, sizeof(ip6));
	nfg = mnl_nlmsg_get_payload(nlh);
	nfg->nfgen_family = AF_INET6;
	pk = memmem(nlh, nlh->nlmsg_len, ip6, sizeof(ip6));
	assert_non_null(pk);
	same_as_fresh(m, nlh);
	pk[7] = 63;
	same_as_fresh(m, nlh);
	assert_int_equal(nflog_decode_memo(nlh, &rec, m), 0);
	assert_int_equal(rec.pkt.ttl, 63);
	assert_int_equal(rec.pkt.dport, 53);
	pk[7] = 62;	/* and the traffic class */
	pk[1] = 0x40;
	same_as_fresh(m, nlh);
	pk[8] = 62;	/* what is the IPv4 TTL, in the IPv6 source address */
	same_as_fresh(m, nlh);
	assert_int_equal(nflog_decode_memo(nlh, &rec, m), 0);
	assert_int_equal(rec.pkt.saddr.s6_addr[0], 62);
	nfg->nfgen_family = 0;	/* the version decides */
	same_as_fresh(m, nlh);
	pk[7] = 61;
	same_as_fresh(m, nlh);
	nflog_memo_free(m);
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
		cmocka_unit_test(test_decode_memo),
		cmocka_unit_test(test_decode_memo_pkt),
		cmocka_unit_test(test_decode_memo_keyed),
		cmocka_unit_test(test_decode_memo_forwarded),
		cmocka_unit_test(test_nlrec_chunks),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
