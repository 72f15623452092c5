/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_sink_json.c: the JSON sink's kept texts print what formatting afresh prints */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "iptrace/sink.h"

/*
 * The sink keeps texts from packet to packet (the steps by index, the packet's endpoints,
 * the time up to the second) from begin() to end(). Used without begin(), it keeps them
 * for one line only, so every step is formatted afresh: that is the reference. Packets
 * drawn from small sets of values, so that most steps find their text kept and some differ
 * from it in one field, must print the same bytes both ways.
 */

#define MAX_STEPS 20	/* past the steps the sink keeps text for */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned pick(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Mostly the first value, sometimes another: steps repeat, but not always. */
static unsigned often0(unsigned n)
{
	return pick(4) ? 0 : pick(n);
}

static const char *const tables[] = { "raw", "mangle", "filter", "nat" };
static const char *const chains[] = {
	"PREROUTING", "FORWARD", "POSTROUTING", "KUBE-SEP-ABCDEFGHIJKLMNOPQRSTU",
	"we\"ird\\", "tab\there",
};
static const char *const ifnames[] = { "if2", "", "if3", "veth1234567890a" };
/* The resolver's strings: valid for one packet, so the same pointer may change text. */
static char rule_buf[3][400];

static void set_name(char *dst, size_t size, const char *s)
{
	memset(dst, 0, size);
	strcpy(dst, s);
	if (pick(8) == 0 && strlen(s) + 2 < size)
		dst[strlen(s) + 1] = 'x';	/* bytes after the NUL are not the name */
}

static void set_endpoints(struct pkt_hdr *h, unsigned v)
{
	static const uint16_t ports[] = { 55522, 5001, 53, 0 };

	h->family = v % 5 == 4 ? 0 : v % 3 == 2 ? AF_INET6 : AF_INET;
	h->proto = v % 2 ? IPPROTO_UDP : IPPROTO_TCP;
	memset(&h->saddr, 0, sizeof(h->saddr));
	memset(&h->daddr, 0, sizeof(h->daddr));
	if (h->family == AF_INET6) {
		inet_pton(AF_INET6, v % 4 ? "2001:db8::1" : "fe80::2", &h->saddr);
		inet_pton(AF_INET6, "2001:db8::7", &h->daddr);
	} else {
		inet_pton(AF_INET, v % 4 ? "10.0.1.2" : "192.168.100.200", &h->saddr);
		inet_pton(AF_INET, "10.0.2.7", &h->daddr);
	}
	h->has_ports = v % 7 != 6;
	h->sport = ports[v % 4];
	h->dport = ports[(v / 4) % 4];
	h->len = (uint16_t)(60 + pick(1500));
	h->ipid = (uint16_t)pick(65536);
	h->ttl = (uint8_t)pick(64);
}

static void make_step(struct trace_record *r, const struct trace_record *prev, unsigned k,
		      uint64_t *ts)
{
	memset(r, 0, sizeof(*r));
	r->backend = pick(6) ? TRACE_BACKEND_LEGACY : TRACE_BACKEND_NFT;
	r->kind = (enum trace_kind)often0(3);
	set_name(r->table, sizeof(r->table), tables[(k + often0(4)) % 4]);
	set_name(r->chain, sizeof(r->chain), chains[(k + often0(6)) % 6]);
	r->rulenum = 1 + often0(3);
	r->handle = r->backend == TRACE_BACKEND_NFT ? often0(3) * 1000000007ull : 0;
	r->table_family = (uint8_t)(r->backend == TRACE_BACKEND_NFT ? 1 + often0(12) : 0);
	set_name(r->in, sizeof(r->in), ifnames[often0(4)]);
	set_name(r->out, sizeof(r->out), ifnames[k > 1 ? 2 : 1 + often0(3)]);
	set_name(r->physin, sizeof(r->physin), ifnames[pick(10) ? 1 : often0(4)]);
	set_name(r->physout, sizeof(r->physout), ifnames[pick(10) ? 1 : often0(4)]);
	if (prev && pick(6))
		r->pkt = prev->pkt;	/* no NAT in between */
	else
		set_endpoints(&r->pkt, often0(40));
	r->mark = pick(8) ? 0 : often0(3) * 0x1234567u;
	r->has_ct = pick(4) == 0;
	if (r->has_ct) {
		r->ct_id = often0(3);
		r->ct_state = often0(4);
		r->ct_status = often0(3) * 0x1a;
		r->ct_dir = (uint8_t)pick(2);
	}
	if (pick(3) == 0) {
		const char *const texts[] = { "-A FORWARD -j ACCEPT", "ACCEPT", "jump \"X\"",
					      "not certain", "" };

		for (int i = 0; i < 3; i++) {
			/* sometimes longer than what the sink keeps */
			if (pick(50) == 0)
				memset(rule_buf[i], 'a' + i, 300), rule_buf[i][300] = '\0';
			else
				strcpy(rule_buf[i], texts[often0(5)]);
		}
		r->rule = pick(4) ? rule_buf[0] : NULL;
		r->verdict = pick(4) ? rule_buf[1] : NULL;
		r->rule_reason = r->rule ? NULL : rule_buf[2];
		r->verdict_continues = pick(2);
	}
	*ts += pick(200) * 1000ull + pick(1000);
	if (pick(100) == 0)
		*ts += 1000000000ull * pick(3);	/* a later second */
	if (pick(300) == 0)
		*ts -= 1000000000ull;		/* an earlier one */
	r->ts_ns = pick(50) ? *ts : pick(2) ? 0 : UINT64_MAX - pick(1000);	/* year 2554 */
}

/* The same records, through a sink with its caches and through one without. */
static void run(bool deferred)
{
	struct trace_record steps[MAX_STEPS];
	char *kept_buf = NULL, *ref_buf = NULL;
	size_t kept_size = 0, ref_size = 0;
	FILE *kept_f = open_memstream(&kept_buf, &kept_size);
	FILE *ref_f = open_memstream(&ref_buf, &ref_size);
	struct sink kept = { .ops = &sink_json_ops, .out = kept_f,
			     .opts = { .deferred_flush = deferred } };
	struct sink ref = { .ops = &sink_json_ops, .out = ref_f };
	struct summary sum = { .packets = 1 };
	uint64_t ts = 1795000000000000000ull;

	assert_non_null(kept_f);
	assert_non_null(ref_f);
	assert_int_equal(kept.ops->begin(&kept), 0);
	for (uint64_t id = 1; id <= 4000; id++) {
		struct packet p = { .id = id, .steps = steps };

		p.nsteps = pick(10) ? 5 : 1 + pick(MAX_STEPS);
		p.steps_dropped = pick(20) ? 0 : 3;
		for (size_t k = 0; k < p.nsteps; k++)
			make_step(&steps[k], k ? &steps[k - 1] : NULL, (unsigned)k, &ts);
		if (pick(10) == 0) {	/* --no-group: one record */
			assert_int_equal(kept.ops->record(&kept, &steps[0]), 0);
			assert_int_equal(ref.ops->record(&ref, &steps[0]), 0);
			continue;
		}
		assert_int_equal(kept.ops->packet(&kept, &p), 0);
		assert_int_equal(ref.ops->packet(&ref, &p), 0);
		if (deferred && pick(16) == 0)
			assert_int_equal(kept.ops->flush(&kept), 0);
	}
	assert_int_equal(kept.ops->end(&kept, &sum), 0);
	assert_int_equal(ref.ops->end(&ref, &sum), 0);
	fclose(kept_f);
	fclose(ref_f);
	assert_true(ref_size > 1000000);
	assert_int_equal(kept_size, ref_size);
	assert_memory_equal(kept_buf, ref_buf, ref_size);
	free(kept_buf);
	free(ref_buf);
}

static void test_kept_texts(void **state)
{
	(void)state;
	run(false);
}

static void test_kept_texts_deferred(void **state)
{
	(void)state;
	run(true);
}

/*
 * The numbers and times the sink writes in place (a packet's id, len and ipid; a step's
 * microseconds) against printf and sink_fmt_time, at the widths where their digits are
 * written differently, one packet after another through one sink's caches.
 */
static void test_numbers_and_times(void **state)
{
	static const uint64_t ids[] = {
		1, 9, 10, 99, 100, 999, 1000, 1001, 9999, 10000, 99999, 100000, 999999, 1000000,
		1000001, 4294967295ull, 4294967296ull, 18446744073709551615ull,
	};
	static const uint16_t nums[] = { 0, 1, 9, 10, 99, 100, 999, 1000, 1009, 9999, 10000, 65535 };
	static const uint64_t ts[] = {
		1795000000000000000ull, 1795000000000000999ull, 1795000000000001000ull,
		1795000000000999999ull, 1795000000001000000ull, 1795000000009999000ull,
		1795000000010000000ull, 1795000000099999999ull, 1795000000100000000ull,
		1795000000999999999ull, 1795000001000000000ull, 1795000000500000000ull,
		1000, 18446744073000000000ull, 18446744073709551615ull,
	};
	struct trace_record steps[3];
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	struct sink s = { .ops = &sink_json_ops, .out = f };
	struct summary sum = { .packets = 1 };
	size_t n = 0;

	(void)state;
	assert_non_null(f);
	assert_int_equal(s.ops->begin(&s), 0);
	memset(steps, 0, sizeof(steps));
	for (size_t k = 0; k < 3; k++) {
		steps[k].backend = TRACE_BACKEND_LEGACY;
		strcpy(steps[k].table, "filter");
		strcpy(steps[k].chain, "FORWARD");
		strcpy(steps[k].in, "if2");
		steps[k].pkt.family = AF_INET;
		steps[k].pkt.proto = IPPROTO_UDP;
	}
	for (size_t i = 0; i < 60; i++) {
		struct packet p = { .id = ids[i % 18], .steps = steps, .nsteps = 3 };
		char want[128], t[40];

		steps[0].pkt.len = nums[i % 12];
		steps[0].pkt.ipid = nums[(i + 5) % 12];
		for (size_t k = 0; k < 3; k++)
			steps[k].ts_ns = ts[(i + k) % 15];
		assert_int_equal(fflush(f), 0);
		n = size;
		assert_int_equal(s.ops->packet(&s, &p), 0);
		assert_int_equal(fflush(f), 0);
		snprintf(want, sizeof(want), "\"id\":\"%llu\",", (unsigned long long)p.id);
		assert_non_null(strstr(buf + n, want));
		snprintf(want, sizeof(want), "\"len\":%u,\"ipid\":%u,", steps[0].pkt.len,
			 steps[0].pkt.ipid);
		assert_non_null(strstr(buf + n, want));
		for (size_t k = 0; k < 3; k++) {
			snprintf(want, sizeof(want), "\"ts\":\"%s\"}",
				 sink_fmt_time(steps[k].ts_ns, t, sizeof(t)));
			assert_non_null(strstr(buf + n, want));
		}
	}
	assert_int_equal(s.ops->end(&s, &sum), 0);
	fclose(f);
	free(buf);
}

/*
 * Steps that all find their text kept, in a sink that collects packets in its buffer
 * (deferred flush): the buffer fills at some point of each kind of text (a kept step, its
 * time, the numbers written in place), and what is written then is what a sink without
 * kept texts writes.
 */
static void test_buffer_boundaries(void **state)
{
	struct trace_record steps[5];
	char *kept_buf = NULL, *ref_buf = NULL;
	size_t kept_size = 0, ref_size = 0;
	FILE *kept_f = open_memstream(&kept_buf, &kept_size);
	FILE *ref_f = open_memstream(&ref_buf, &ref_size);
	struct sink kept = { .ops = &sink_json_ops, .out = kept_f,
			     .opts = { .deferred_flush = true } };
	struct sink ref = { .ops = &sink_json_ops, .out = ref_f };
	struct summary sum = { .packets = 1 };
	uint64_t ts = 1795000000000000000ull;

	(void)state;
	assert_non_null(kept_f);
	assert_non_null(ref_f);
	assert_int_equal(kept.ops->begin(&kept), 0);
	memset(steps, 0, sizeof(steps));
	for (size_t k = 0; k < 5; k++) {
		steps[k].backend = TRACE_BACKEND_LEGACY;
		strcpy(steps[k].table, tables[k % 4]);
		strcpy(steps[k].chain, chains[k % 3]);
		strcpy(steps[k].in, "if2");
		strcpy(steps[k].out, k > 1 ? "if3" : "");
		steps[k].rulenum = 1;
		set_endpoints(&steps[k].pkt, 1);
		if (k)
			steps[k].pkt = steps[0].pkt;
	}
	for (uint64_t id = 995000; id < 1005000; id += 1 + pick(3)) {
		struct packet p = { .id = id, .steps = steps, .nsteps = 1 + pick(5) };

		steps[0].pkt.len = (uint16_t)pick(2000);
		steps[0].pkt.ipid = (uint16_t)pick(65536);
		for (size_t k = 0; k < p.nsteps; k++) {
			ts += pick(2000000);
			steps[k].ts_ns = k == 4 ? 0 : ts;
		}
		assert_int_equal(kept.ops->packet(&kept, &p), 0);
		assert_int_equal(ref.ops->packet(&ref, &p), 0);
	}
	assert_int_equal(kept.ops->end(&kept, &sum), 0);
	assert_int_equal(ref.ops->end(&ref, &sum), 0);
	fclose(kept_f);
	fclose(ref_f);
	assert_true(ref_size > 4 * 65536);	/* the sink's buffer filled, several times */
	assert_int_equal(kept_size, ref_size);
	assert_memory_equal(kept_buf, ref_buf, ref_size);
	free(kept_buf);
	free(ref_buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept_texts),
		cmocka_unit_test(test_kept_texts_deferred),
		cmocka_unit_test(test_numbers_and_times),
		cmocka_unit_test(test_buffer_boundaries),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
