/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_json.c: the strict JSON tokenizer, and iptrace's packet lines read back by jsonpkt */
#include <errno.h>
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
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <cmocka.h>

#include "iptrace/json.h"
#include "iptrace/jsonpkt.h"
#include "iptrace/sink.h"
#include "test_step.h"

static int parse(const char *s, struct json_tok *t, size_t n)
{
	return json_parse(s, strlen(s), t, n);
}

/* Tokens in document order; each value's end is the token after it and its own. */
static void test_tokens(void **state)
{
	static const char s[] = " {\"a\":[1,{\"b\":null}],\"c\":\"x\\ty\",\"d\":-0.5e+3} ";
	struct json_tok t[16];

	(void)state;
	assert_int_equal(parse(s, t, 16), 11);
	assert_int_equal(t[0].type, JSON_OBJECT);
	assert_int_equal(t[0].count, 3);
	assert_int_equal(t[0].end, 11);
	assert_true(json_str_is(s, &t[1], "a"));
	assert_int_equal(t[2].type, JSON_ARRAY);
	assert_int_equal(t[2].count, 2);
	assert_int_equal(t[2].end, 7);
	assert_int_equal(t[3].type, JSON_NUMBER);
	assert_int_equal(t[4].type, JSON_OBJECT);
	assert_int_equal(t[6].type, JSON_NULL);
	assert_true(json_str_is(s, &t[7], "c"));
	assert_int_equal(t[8].type, JSON_STRING);
	assert_int_equal(t[8].len, 4);
	assert_false(json_str_is(s, &t[8], "x\ty"));	/* compared as written */
	assert_true(json_str_is(s, &t[9], "d"));
	assert_int_equal(t[10].type, JSON_NUMBER);
	assert_int_equal(t[10].len, 7);
	/* Exactly as many tokens as needed, not one fewer. */
	assert_int_equal(parse(s, t, 11), 11);
	assert_int_equal(parse(s, t, 10), -E2BIG);
}

/* What RFC 8259 forbids, and what iptrace's strings never hold, is refused. */
static void test_strict(void **state)
{
	static const char *const bad[] = {
		"", " ", "{", "}", "{}x", "{} {}", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}",
		"{1:2}", "{\"a\"}", "[1 2]", "01", "1.", ".5", "-", "+1", "1e", "1e+", "0x1",
		"tru", "nul", "True", "\"abc", "\"a\x01\"", "\"a\tb\"", "\"\\x\"", "\"\\u12\"",
		"\"\\u12g4\"", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
		"\"\\ud800x\"", "\"\x80\"", "\"\xc0\xaf\"", "\"\xc3\"", "\"\xe0\x80\xaf\"",
		"\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xf8\x88\x80\x80\x80\"", "\"\xff\"",
		"\"\\", "[\"a\",", "NaN", "Infinity",
	};
	static const char *const good[] = {
		"{}", "[]", "0", "-0", "1.5E-3", "true", "false", "null", "\"\"", " \"\\/\" ",
		"\"\xc3\xa9\xe2\x86\x92\xf0\x9f\x98\x80\"", "\"\\ud83d\\ude00\"", "\"\\u001f\"",
		"[[[]],{}]", "\t{\r\n\"a\" : [ 1 , 2 ] }\n",
	};
	struct json_tok t[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], t, 64) != -EINVAL)
			fail_msg("accepted: '%s'", bad[i]);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (parse(good[i], t, 64) < 1)
			fail_msg("refused: '%s'", good[i]);
	}
	/* A NUL inside the text is a control byte, not an end. */
	assert_int_equal(json_parse("\"a\0b\"", 5, t, 64), -EINVAL);
	assert_int_equal(json_parse("{}\0", 3, t, 64), -EINVAL);
}

/* Nesting is bounded: JSON_MAX_DEPTH levels parse, one more does not. */
static void test_depth(void **state)
{
	char s[2 * JSON_MAX_DEPTH + 3];
	struct json_tok t[64];

	(void)state;
	memset(s, '[', JSON_MAX_DEPTH);
	memset(s + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
	s[2 * JSON_MAX_DEPTH] = '\0';
	assert_int_equal(parse(s, t, 64), JSON_MAX_DEPTH);
	memset(s, '[', JSON_MAX_DEPTH + 1);
	memset(s + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
	s[2 * JSON_MAX_DEPTH + 2] = '\0';
	assert_int_equal(parse(s, t, 64), -EINVAL);
}

/* Strings decoded in place: every escape, surrogate pairs into 4 UTF-8 bytes. */
static void test_unescape(void **state)
{
	char s[] = "[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00z\",\"plain\"]";
	struct json_tok t[4];
	char *a, *b;

	(void)state;
	assert_int_equal(parse(s, t, 4), 3);
	a = json_unescape(s, &t[1]);
	b = json_unescape(s, &t[2]);
	assert_string_equal(a, "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z");
	assert_string_equal(b, "plain");
}

static void test_uint(void **state)
{
	static const struct {
		const char	*s;
		uint64_t	max;
		int		ret;
		uint64_t	v;
	} cases[] = {
		{ "0", 10, 0, 0 },
		{ "10", 10, 0, 10 },
		{ "11", 10, -EINVAL, 0 },
		{ "9", 5, -EINVAL, 0 },
		{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", UINT64_MAX, -EINVAL, 0 },
		{ "99999999999999999999", UINT64_MAX, -EINVAL, 0 },
		{ "-1", UINT64_MAX, -EINVAL, 0 },
		{ "1.0", UINT64_MAX, -EINVAL, 0 },
		{ "1e3", UINT64_MAX, -EINVAL, 0 },
	};
	struct json_tok t[2];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 0;

		assert_int_equal(parse(cases[i].s, t, 2), 1);
		assert_int_equal(json_uint(cases[i].s, &t[0], cases[i].max, &v), cases[i].ret);
		if (!cases[i].ret)
			assert_true(v == cases[i].v);
	}
	assert_int_equal(parse("\"1\"", t, 2), 1);
	assert_int_equal(json_uint("\"1\"", &t[0], 9, &(uint64_t){ 0 }), -EINVAL);
}

/* ---- jsonpkt: the sink's own lines read back ---- */

#define TS 1795000000123456000ull	/* 2026-11-18T11:06:40.123456Z */

/* What the JSON sink prints for @p (no summary). The caller frees it. */
static char *print_packet(const struct packet *p)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	struct sink s = { .ops = &sink_json_ops, .out = f };

	assert_non_null(f);
	assert_int_equal(s.ops->packet(&s, p), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void step(struct trace_record *r, const char *table, const char *chain, int hook)
{
	step_rule(r, table, chain, hook);
	r->rulenum = 3;
	strcpy(r->in, "eth0");
	hdr_v4(&r->pkt, "10.0.1.2", "10.96.0.10");
	hdr_udp(&r->pkt, 40000, 53);
	r->pkt.len = 60;
	r->pkt.ipid = 4660;
	r->pkt.ttl = 64;
	r->pkt.head_hash = 0x1234abcd;
	r->ts_ns = TS;
}

/* Read @line (a copy: reading decodes in place); 0 or the error. */
static int read_line(struct jsonpkt_reader *rd, const char *line, char **copy,
		     struct jsonpkt *jp, const char **why)
{
	size_t n = strlen(line);

	while (n && line[n - 1] == '\n')
		n--;
	*copy = strndup(line, n);
	assert_non_null(*copy);
	return jsonpkt_read(rd, *copy, n, jp, why);
}

/* Printed, read, printed again: the same line, every field the sinks print kept. */
static void round_trip(struct jsonpkt_reader *rd, const struct packet *p)
{
	char *a = print_packet(p), *copy, *b;
	const char *why = NULL;
	struct jsonpkt jp;
	struct packet q;

	if (read_line(rd, a, &copy, &jp, &why) != 0)
		fail_msg("cannot read back (%s): %s", why, a);
	assert_int_equal(jp.type, JSONPKT_PACKET);
	q = (struct packet){ .id = jp.id, .nsteps = jp.nsteps, .steps = jp.steps,
			     .steps_dropped = jp.steps_dropped };
	b = print_packet(&q);
	assert_string_equal(a, b);
	free(a);
	free(b);
	free(copy);
}

static void test_round_trip(void **state)
{
	struct jsonpkt_reader *rd = jsonpkt_reader_new();
	struct trace_record st[4];
	struct packet p = { .id = 42, .nsteps = 4, .steps = st, .steps_dropped = 7 };
	char longest[TRACE_NFT_NAME_MAX];

	(void)state;
	assert_non_null(rd);
	step(&st[0], "raw", "PREROUTING", HOOK_PREROUTING);
	st[0].rule = "-P PREROUTING ACCEPT";
	st[0].verdict = "ACCEPT";
	st[0].kind = TRACE_KIND_POLICY;
	st[0].node = "node-a";
	step(&st[1], "nat", "KUBE-SEP-X", HOOK_PREROUTING);
	st[1].rule = "-A KUBE-SEP-X -m comment --comment \"tab\there \\\" é\" -j DNAT";
	st[1].verdict = "DNAT";
	st[1].mark = 0x4000;
	st[1].node = "node-a";
	step(&st[2], "mangle", "POSTROUTING", HOOK_POSTROUTING);
	inet_pton(AF_INET, "10.244.2.5", &st[2].pkt.daddr);
	st[2].pkt.ttl = 63;
	st[2].rule_reason = "the ruleset changed";
	st[2].verdict_continues = true;
	st[2].verdict = "MARK";
	strcpy(st[2].out, "vxlan0");
	strcpy(st[2].physin, "veth1");
	st[2].node = "node-a";
	/* An nft step of another node, its conntrack view, no time. */
	step(&st[3], "filter", "forward", HOOK_FORWARD);
	st[3].backend = TRACE_BACKEND_NFT;
	st[3].rulenum = 0;
	st[3].handle = 1ull << 40;
	st[3].table_family = NFPROTO_INET;
	st[3].has_ct = true;
	st[3].ct_id = 4242;
	st[3].ct_state = NF_CT_STATE_BIT(IP_CT_ESTABLISHED);
	st[3].ct_dir = IP_CT_DIR_REPLY;
	st[3].ct_status = IPS_SEEN_REPLY | IPS_DST_NAT | IPS_CONFIRMED;
	st[3].verdict = "accept";
	st[3].ts_ns = 0;
	st[3].node = "node-b";
	inet_pton(AF_INET, "10.244.2.5", &st[3].pkt.daddr);
	round_trip(rd, &p);

	/* One node: the packet's node stands for every step's. */
	st[3].node = "node-a";
	round_trip(rd, &p);

	/* nf_tables names up to 255 bytes (NFT_NAME_MAXLEN - 1) are read back whole. */
	memset(longest, 'n', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	st[3].table = longest;
	st[3].chain = longest;
	round_trip(rd, &p);
	st[3].table = "filter";
	st[3].chain = "forward";

	/* IPv6 without ports, a protocol without a name; no node, no hash. */
	p.nsteps = 1;
	p.steps_dropped = 0;
	step(&st[0], "raw", "OUTPUT", HOOK_OUTPUT);
	st[0].pkt.family = AF_INET6;
	st[0].pkt.proto = 253;
	st[0].pkt.has_ports = false;
	st[0].pkt.ipid = 0;
	st[0].pkt.head_hash = 0;
	inet_pton(AF_INET6, "2001:db8::1", &st[0].pkt.saddr);
	inet_pton(AF_INET6, "fd00::5", &st[0].pkt.daddr);
	round_trip(rd, &p);

	/* Every hook's name is read back as written. */
	for (int hook = HOOK_PREROUTING; hook <= HOOK_POSTROUTING; hook++) {
		st[0].hook = (int8_t)hook;
		round_trip(rd, &p);
	}

	/* No family at all: no addresses; a user chain: no hook. */
	st[0].pkt.family = 0;
	st[0].hook = HOOK_NONE;
	round_trip(rd, &p);
	jsonpkt_reader_free(rd);
}

/* The fields as read: times to the microsecond, names, the packet's header in each step. */
static void test_fields(void **state)
{
	static const char line[] =
		"{\"type\":\"packet\",\"id\":\"9\",\"node\":\"worker-1\",\"family\":\"ipv4\","
		"\"proto\":\"udp\",\"src\":\"10.0.1.2\",\"sport\":1,\"dst\":\"10.0.0.1\",\"dport\":53,"
		"\"len\":33,\"ipid\":7,\"payload_hash\":\"00c0ffee\",\"future\":{\"a\":[1,{}]},"
		"\"steps\":[{\"backend\":\"legacy\",\"table\":\"raw\",\"chain\":\"PREROUTING\","
		"\"hook\":\"PREROUTING\",\"kind\":\"policy\",\"rulenum\":4,\"rule\":null,"
		"\"rule_reason\":\"why\",\"in\":\"eth0\",\"out\":\"\",\"src\":\"10.0.1.2\","
		"\"sport\":1,\"dst\":\"10.0.0.1\",\"dport\":53,\"ttl\":9,\"nat\":{\"x\":1},"
		"\"later\":[true],\"ts\":\"2026-11-18T11:06:40.123456Z\"}],\"ct\":{\"id\":1}}";
	struct jsonpkt_reader *rd = jsonpkt_reader_new();
	const char *why = NULL;
	struct jsonpkt jp;
	char *copy;

	(void)state;
	assert_int_equal(read_line(rd, line, &copy, &jp, &why), 0);
	assert_int_equal(jp.type, JSONPKT_PACKET);
	assert_int_equal(jp.id, 9);
	assert_string_equal(jp.node, "worker-1");
	assert_int_equal(jp.nsteps, 1);
	assert_string_equal(jp.steps[0].node, "worker-1");
	assert_int_equal(jp.steps[0].pkt.family, AF_INET);
	assert_int_equal(jp.steps[0].pkt.proto, IPPROTO_UDP);
	assert_int_equal(jp.steps[0].pkt.len, 33);
	assert_int_equal(jp.steps[0].pkt.ipid, 7);
	assert_int_equal(jp.steps[0].pkt.head_hash, 0xc0ffee);
	assert_int_equal(jp.steps[0].pkt.ttl, 9);
	assert_int_equal(jp.steps[0].hook, HOOK_PREROUTING);
	assert_int_equal(jp.steps[0].kind, TRACE_KIND_POLICY);
	assert_int_equal(jp.steps[0].rulenum, 4);
	assert_null(jp.steps[0].rule);
	assert_string_equal(jp.steps[0].rule_reason, "why");
	assert_true(jp.steps[0].ts_ns == TS);
	assert_int_equal(jp.steps[0].pkt.dport, 53);
	free(copy);
	jsonpkt_reader_free(rd);
}

/* A summary's counters; other types are named as such; garbage is refused with a reason. */
static void test_other_lines(void **state)
{
	static const struct {
		const char	*line;
		const char	*why;	/* NULL: read */
	} cases[] = {
		{ "{\"type\":\"summary\",\"packets\":2,\"records\":9,\"lost\":1,\"dropped\":0,"
		  "\"evicted\":3,\"overruns\":4,\"marker\":\"nft\",\"node\":\"n1\"}", NULL },
		{ "{\"type\":\"record\",\"step\":{}}", NULL },
		{ "{\"type\":\"something-later\"}", NULL },
		{ "[1]", "an object expected" },
		{ "{\"kind\":\"packet\"}", "an object without a \"type\"" },
		{ "{\"type\":\"packet\",\"type\":\"packet\"}", "a key given twice" },
		{ "{\"type\":\"packet\",\"id\":\"1\",\"family\":\"ipv4\",\"proto\":\"udp\",\"len\":1,"
		  "\"steps\":[]}", "a packet without steps" },
		{ "{\"type\":\"packet\",\"id\":1,\"family\":\"ipv4\",\"proto\":\"udp\",\"len\":1,"
		  "\"steps\":[{}]}", "a packet id that is not a string" },
		{ "{\"type\":\"packet\",\"id\":\"1\",\"family\":\"ipv5\",\"proto\":\"udp\",\"len\":1,"
		  "\"steps\":[{}]}", "an unknown family" },
		{ "{\"type\":\"packet\",\"id\":\"1\",\"family\":\"ipv4\",\"proto\":\"udp\","
		  "\"len\":70000,\"steps\":[{}]}", "a number out of range" },
		{ "{\"type\":\"packet\",\"id\":\"1\",\"family\":\"ipv4\",\"proto\":\"udp\",\"len\":1,"
		  "\"steps\":[{\"backend\":\"legacy\",\"kind\":\"rule\",\"table\":\"raw\","
		  "\"chain\":\"X\",\"in\":\"\",\"out\":\"\"}]}", "a step without addresses" },
		{ "{\"type\":\"packet\",\"id\":\"1\",\"family\":\"ipv4\",\"proto\":\"udp\",\"len\":1,"
		  "\"steps\":[{\"backend\":\"legacy\",\"kind\":\"rule\",\"table\":\"raw\","
		  "\"chain\":\"X\",\"in\":\"\",\"out\":\"\",\"src\":\"1.2.3\",\"dst\":\"1.2.3.4\"}]}",
		  "an address that does not parse" },
		{ "{\"type\":\"packet\",\"id\":\"1\",\"family\":\"ipv4\",\"proto\":\"udp\",\"len\":1,"
		  "\"steps\":[{\"backend\":\"legacy\",\"kind\":\"rule\",\"table\":\"raw\","
		  "\"chain\":\"X\",\"in\":\"\",\"out\":\"\",\"src\":\"1.2.3.4\",\"dst\":\"1.2.3.4\","
		  "\"ts\":\"2026-02-30T00:00:00.000000Z\"}]}", "a time iptrace does not write" },
		{ "{\"type\":\"packet\",\"id\":\"1\",\"family\":\"unknown\",\"proto\":1,\"len\":1,"
		  "\"steps\":[{\"backend\":\"legacy\",\"kind\":\"rule\",\"table\":"
		  "\"0123456789012345678901234567890123\",\"chain\":\"X\",\"in\":\"\",\"out\":\"\"}]}",
		  "a name longer than iptrace writes" },
		{ "{\"type\":\"packet\",\"id\":\"1\",\"family\":\"unknown\",\"proto\":1,\"len\":1,"
		  "\"steps\":[{\"backend\":\"nft\",\"kind\":\"rule\",\"table\":\""
		  /* 256 bytes: nf_tables' names have at most 255 */
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		  "\",\"chain\":\"X\",\"in\":\"\",\"out\":\"\"}]}",
		  "a name longer than iptrace writes" },
		{ "{\"type\":\"packet\",\"id\":\"1\",\"node\":\"a\\u0007b\",\"family\":\"unknown\","
		  "\"proto\":1,\"len\":1,\"steps\":[{}]}", "a node name iptrace does not take" },
		{ "{\"type\":\"packet\",\"id\":\"1\",\"family\":\"unknown\",\"proto\":1,\"len\":1,"
		  "\"steps\":[{\"backend\":\"ebpf\",\"kind\":\"rule\"}]}", "an unknown backend" },
		{ "{\"type\":\"packet\",\"id\":\"1\",\"family\":\"unknown\",\"proto\":1,\"len\":1,"
		  "\"steps\":[{\"backend\":\"nft\",\"kind\":\"rule\",\"table\":\"t\",\"chain\":\"c\","
		  "\"in\":\"\",\"out\":\"\",\"continue\":false}]}", "\"continue\" is not true" },
		{ "{\"type\":\"packet\"", "not JSON" },
	};
	struct jsonpkt_reader *rd = jsonpkt_reader_new();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		struct jsonpkt jp;
		char *copy;
		int ret = read_line(rd, cases[i].line, &copy, &jp, &why);

		if (!cases[i].why && ret != 0)
			fail_msg("refused (%s): %s", why, cases[i].line);
		if (cases[i].why && (ret != -EINVAL || strcmp(why, cases[i].why) != 0))
			fail_msg("%d '%s' instead of '%s': %s", ret, why ? why : "", cases[i].why,
				 cases[i].line);
		if (i == 0) {
			assert_int_equal(jp.type, JSONPKT_SUMMARY);
			assert_int_equal(jp.sum.packets, 2);
			assert_int_equal(jp.sum.lost, 1);
			assert_int_equal(jp.sum.evicted, 3);
			assert_int_equal(jp.sum.overruns, 4);
			assert_string_equal(jp.node, "n1");
		} else if (i < 3) {
			assert_int_equal(jp.type, JSONPKT_OTHER);
		}
		free(copy);
	}
	jsonpkt_reader_free(rd);
}

/* A packet of many steps needs many tokens: the reader grows, up to its bound. */
static void test_big(void **state)
{
	static struct trace_record st[JSONPKT_MAX_STEPS + 1];
	struct jsonpkt_reader *rd = jsonpkt_reader_new();
	struct packet p = { .id = 1, .nsteps = JSONPKT_MAX_STEPS, .steps = st };
	const char *why = NULL;
	struct jsonpkt jp;
	char *line, *copy;

	(void)state;
	for (size_t i = 0; i <= JSONPKT_MAX_STEPS; i++)
		step(&st[i], "filter", "FORWARD", HOOK_FORWARD);
	line = print_packet(&p);
	assert_int_equal(read_line(rd, line, &copy, &jp, &why), 0);
	assert_int_equal(jp.nsteps, JSONPKT_MAX_STEPS);
	free(copy);
	free(line);
	p.nsteps++;
	line = print_packet(&p);
	assert_int_equal(read_line(rd, line, &copy, &jp, &why), -E2BIG);
	free(copy);
	free(line);
	jsonpkt_reader_free(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_strict),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_other_lines),
		cmocka_unit_test(test_big),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
