/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_sink_text.c: names in text output — the escaper, and the text, log, NAT table and diagnostics that use it */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "iptrace/diag.h"
#include "iptrace/logline.h"
#include "iptrace/nattable.h"
#include "iptrace/sink.h"
#include "../oracle.h"
#include "test_step.h"

/* The names of issue 17, as a namespace's root can set them. */
#define IFNAME	"v\033[7mX"
#define CHAIN	"CH\033[31mAIN"
#define COMMENT	"\033]0;pwned\a\033[2J\xff\xfe"

static const struct {
	const char	*in, *want;
} cases[] = {
	{ "", "" },
	{ "eth0", "eth0" },
	{ IFNAME, "v\\x1b[7mX" },
	{ CHAIN, "CH\\x1b[31mAIN" },
	{ COMMENT, "\\x1b]0;pwned\\x07\\x1b[2J\\xff\\xfe" },
	{ "a\tb\nc\rd\x7f", "a\\x09b\\x0ac\\x0dd\\x7f" },
	{ "back\\slash \"q\"", "back\\slash \"q\"" },	/* as dmesg: printable stays */
	{ "\xc3\xa9t\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80", "\xc3\xa9t\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80" },
	{ "\xc2\x9b" "31m", "\\xc2\\x9b31m" },		/* CSI as a C1 control, UTF-8 encoded */
	{ "\xc2\x85\xc2\xa0", "\\xc2\\x85\xc2\xa0" },	/* NEL escaped, NBSP kept */
	{ "\x9b" "31m", "\\x9b31m" },			/* a lone C1 byte is not UTF-8 */
	{ "\xc0\xaf\xe0\x80\xaf", "\\xc0\\xaf\\xe0\\x80\\xaf" },	/* overlong */
	{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },		/* a surrogate */
	{ "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80" },	/* past U+10FFFF */
	{ "\xe2\x86", "\\xe2\\x86" },			/* cut short by the end */
	{ "\xe2\x86" "a", "\\xe2\\x86a" },		/* cut short by ASCII */
};

static void test_escape_cases(void **state)
{
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sink_text_name(cases[i].in, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, buf, cases[i].want);
		assert_null(oracle_text(buf, strlen(buf), false));
	}
}

/* In pieces of every size from SINK_TEXT_ESC_MAX: whole escapes only, the same text. */
static void test_escape_pieces(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t want = strlen(cases[i].want);

		for (size_t size = SINK_TEXT_ESC_MAX; size <= want + 1; size++) {
			const char *s = cases[i].in;
			char buf[256];
			size_t len = 0;

			while (*s) {
				size_t k = sink_text_escape(buf + len, size, &s);

				assert_true(k > 0 && k <= size);
				len += k;
				assert_true(len <= want);
			}
			assert_int_equal(len, want);
			assert_memory_equal(buf, cases[i].want, len);
		}
	}
}

/* A buffer too small: cut after the last whole escape, never inside one; always ended. */
static void test_name_cut(void **state)
{
	char buf[8];

	(void)state;
	assert_string_equal(sink_text_name("ab\033cd", buf, 6), "ab");
	assert_string_equal(sink_text_name("ab\033cd", buf, 7), "ab\\x1b");
	assert_string_equal(sink_text_name("a\xc3\xa9", buf, 3), "a");
	assert_string_equal(sink_text_name("abc", buf, 1), "");
	assert_string_equal(sink_text_name("x", buf, 0), buf);	/* writes nothing */
}

/* ---- the text sink and the log format over memory ---- */

static void step_init(struct trace_record *r, const char *table, const char *chain)
{
	step_rule(r, table, chain, HOOK_PREROUTING);
	r->rulenum = 1;
	snprintf(r->in, sizeof(r->in), "%s", IFNAME);
	hdr_v4(&r->pkt, "10.0.1.2", "10.0.2.7");
	hdr_udp(&r->pkt, 40000, 53);
	r->pkt.has_l4 = true;
	r->pkt.len = 60;
	r->pkt.ttl = 64;
}

/* What a sink of @ops writes for @p (and, with @record, for its first step alone). */
static char *sink_output(const struct sink_ops *ops, const struct packet *p, bool color,
			 bool record)
{
	static const struct summary none;
	struct sink s = { .ops = ops, .opts = { .color = color } };
	char *buf = NULL;
	size_t n = 0;

	s.out = open_memstream(&buf, &n);
	assert_non_null(s.out);
	assert_int_equal(ops->begin(&s), 0);
	if (record)
		assert_int_equal(ops->record(&s, &p->steps[0]), 0);
	else
		assert_int_equal(ops->packet(&s, p), 0);
	assert_int_equal(ops->end(&s, &none), 0);
	assert_int_equal(fclose(s.out), 0);
	return buf;
}

/* The names through text (with and without colours, grouped and not) and log. */
static void test_hostile_names(void **state)
{
	static const char rule[] = "-A " CHAIN " -m comment --comment \"" COMMENT "\" -j DROP";
	struct trace_record st[2];
	struct packet p = { .id = 1, .nsteps = 2, .steps = st };
	static const struct {
		const struct sink_ops	*ops;
		bool			color, record;
	} runs[] = {
		{ &sink_text_ops, false, false }, { &sink_text_ops, true, false },
		{ &sink_text_ops, true, true }, { &sink_log_ops, false, false },
		{ &sink_log_ops, false, true },
	};

	(void)state;
	step_init(&st[0], "raw", "PREROUTING");
	step_init(&st[1], "filter", CHAIN);
	snprintf(st[1].out, sizeof(st[1].out), "o\033]0;t\a");
	snprintf(st[1].physin, sizeof(st[1].physin), "p\xff");
	st[1].rule = rule;
	st[1].verdict = "jump " CHAIN;
	st[0].rule_reason = "why \033[5m";
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		char *got = sink_output(runs[i].ops, &p, runs[i].color, runs[i].record);
		const char *bad = oracle_text(got, strlen(got), runs[i].color);

		if (bad)
			fail_msg("run %zu: a raw byte 0x%02x at %zu of:\n%s", i, (unsigned char)*bad,
				 (size_t)(bad - got), got);
		assert_non_null(strstr(got, "v\\x1b[7mX"));
		if (!runs[i].record) {
			assert_non_null(strstr(got, "CH\\x1b[31mAIN"));
			assert_non_null(strstr(got, "o\\x1b]0;t\\x07"));
			assert_non_null(strstr(got, "p\\xff"));
		}
		if (runs[i].ops == &sink_text_ops && !runs[i].record) {
			assert_non_null(strstr(got, "--comment \"\\x1b]0;pwned\\x07\\x1b[2J\\xff\\xfe\""));
			assert_non_null(strstr(got, "jump CH\\x1b[31mAIN"));
			assert_non_null(strstr(got, "(why \\x1b[5m)"));
		}
		free(got);
	}
}

/* The log format: the kernel's line with its names escaped, as dmesg shows it. */
static void test_log_line(void **state)
{
	struct trace_record r;
	char *buf = NULL;
	size_t n = 0;
	FILE *f;

	(void)state;
	step_init(&r, "raw", CHAIN);
	f = open_memstream(&buf, &n);
	assert_non_null(f);
	assert_int_equal(logline_format(f, &r), 0);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf, "TRACE: raw:CH\\x1b[31mAIN:rule:1 IN=v\\x1b[7mX OUT= MAC= "
				 "SRC=10.0.1.2 DST=10.0.2.7 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=0 "
				 "PROTO=UDP SPT=40000 DPT=53 LEN=0 ");
	free(buf);
}

/* Any bytes in every name, through text (colours on) and log: never a raw control byte. */
static void test_drawn_names(void **state)
{
	uint64_t rng = 0x2545f4914f6cdd1dull;
	static char rules[3][300], tables[3][TRACE_NFT_NAME_MAX], chains[3][TRACE_NFT_NAME_MAX];
	struct trace_record st[3];
	struct packet p = { .id = 9, .nsteps = 3, .steps = st };

	(void)state;
	for (int k = 0; k < 2000; k++) {
		for (size_t i = 0; i < 3; i++) {
			char *names[] = { tables[i], chains[i], st[i].in, st[i].out,
					  st[i].physin, rules[i] };
			size_t sizes[] = { TRACE_NFT_NAME_MAX, TRACE_NFT_NAME_MAX, IF_NAMESIZE,
					   IF_NAMESIZE, IF_NAMESIZE, sizeof(rules[i]) };

			step_init(&st[i], tables[i], chains[i]);
			for (size_t j = 0; j < 6; j++) {
				size_t len;

				rng ^= rng << 13;
				rng ^= rng >> 7;
				rng ^= rng << 17;
				len = rng % sizes[j];
				for (size_t b = 0; b < len; b++) {
					rng ^= rng << 13;
					rng ^= rng >> 7;
					rng ^= rng << 17;
					names[j][b] = (char)(1 + rng % 255);
				}
				names[j][len] = '\0';
			}
			st[i].rule = rules[i];
			st[i].verdict = k % 2 ? rules[i] : NULL;
		}
		for (int run = 0; run < 3; run++) {
			const struct sink_ops *ops = run == 2 ? &sink_log_ops : &sink_text_ops;
			char *got = sink_output(ops, &p, run == 0, run == 1);
			const char *bad = oracle_text(got, strlen(got), run == 0);

			if (bad)
				fail_msg("drawn %d/%d: a raw byte 0x%02x at %zu", k, run,
					 (unsigned char)*bad, (size_t)(bad - got));
			free(got);
		}
	}
}

/* --nat-table FILE: a log's words are whatever the file holds; the table shows them escaped. */
static void test_nat_table(void **state)
{
	static const char log[] = "+ udp\033[2J 10.0.1.2:1 10.0.2.7:53 \xff\xfe:1 *:* (id 7)\n";
	struct nattable *t = nattable_new();
	char *buf = NULL;
	size_t n = 0;
	uint64_t skipped = 0;
	FILE *in = fmemopen((void *)log, sizeof(log) - 1, "r"), *out;

	(void)state;
	assert_non_null(t);
	assert_non_null(in);
	assert_int_equal(nattable_fold(t, in, &skipped), 0);
	fclose(in);
	assert_int_equal(nattable_count(t), 1);
	out = open_memstream(&buf, &n);
	assert_non_null(out);
	assert_int_equal(nattable_print(t, out), 0);
	assert_int_equal(fclose(out), 0);
	assert_null(oracle_text(buf, n, false));
	assert_non_null(strstr(buf, "udp\\x1b[2J 10.0.1.2:1"));
	assert_non_null(strstr(buf, "\\xff\\xfe:1"));
	free(buf);

	buf = NULL;
	out = open_memstream(&buf, &n);
	assert_non_null(out);
	assert_int_equal(nattable_print_json(t, out), 0);
	assert_int_equal(fclose(out), 0);
	assert_null(oracle_json_lines(buf, n));
	assert_non_null(strstr(buf, "\"proto\":\"udp\\u001b[2J\""));
	assert_non_null(strstr(buf, "\"alias\":\"\xef\xbf\xbd\xef\xbf\xbd:1\",\"alias_hex\":\"fffe3a31\""));
	free(buf);
	nattable_free(t);
}

/* Diagnostics quote names (an interface, a file): escaped too. */
static void test_diag(void **state)
{
	char path[] = "/tmp/iptrace-diag.XXXXXX", got[512];
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	assert_int_equal(dup2(fd, 2), 2);
	unsetenv("JOURNAL_STREAM");
	diag_error("unknown interface '%s'", IFNAME "\n\xff");
	dup2(saved, 2);
	close(saved);
	n = pread(fd, got, sizeof(got) - 1, 0);
	close(fd);
	assert_true(n > 0);
	got[n] = '\0';
	assert_string_equal(got, "iptrace: unknown interface 'v\\x1b[7mX\\x0a\\xff'\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_cases),
		cmocka_unit_test(test_escape_pieces),
		cmocka_unit_test(test_name_cut),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_log_line),
		cmocka_unit_test(test_drawn_names),
		cmocka_unit_test(test_nat_table),
		cmocka_unit_test(test_diag),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
