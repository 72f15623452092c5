/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_nattable.c: natstat.awk's fold — the libalias fixture, '=' lines, the printed table */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "iptrace/natlog.h"
#include "iptrace/nattable.h"
#include "iptrace/siphash.h"

#define FIXTURE TEST_DATA_DIR "/natd-alias.log"

/*
 * The expected table, derived without nattable: split each line with sscanf, append on
 * '+', remove the first row with that id on '-'.
 */
struct plain {
	char	f[6][80];	/* proto local public alias proxy id */
};

static size_t derive(struct plain *rows, size_t max, size_t *nplus, size_t *nminus)
{
	FILE *f = fopen(FIXTURE, "r");
	char line[512], op;
	size_t n = 0;

	assert_non_null(f);
	*nplus = *nminus = 0;
	while (fgets(line, sizeof(line), f)) {
		struct plain p;

		assert_int_equal(sscanf(line, "%c %79s %79s %79s %79s %79s (%79[^)])", &op, p.f[0],
					p.f[1], p.f[2], p.f[3], p.f[4], p.f[5]), 7);
		if (op == '+') {
			assert_true(n < max);
			rows[n++] = p;
			(*nplus)++;
		} else if (op == '-') {
			(*nminus)++;
			for (size_t i = 0; i < n; i++) {
				if (strcmp(rows[i].f[5], p.f[5]) == 0) {
					memmove(&rows[i], &rows[i + 1], (n - i - 1) * sizeof(*rows));
					n--;
					break;
				}
			}
		}
	}
	fclose(f);
	return n;
}

static void fixture_folds_to_its_five_entries(void **state)
{
	struct plain want[32];
	size_t nplus, nminus, n = derive(want, 32, &nplus, &nminus), tcp = 0;
	struct nattable *t = nattable_new();
	uint64_t skipped = 0;
	FILE *f = fopen(FIXTURE, "r");

	(void)state;
	assert_int_equal(nplus + nminus, 19);	/* the fixture's README: 19 lines */
	assert_non_null(f);
	assert_int_equal(nattable_fold(t, f, &skipped), 0);
	fclose(f);
	assert_int_equal(skipped, 0);
	assert_int_equal(n, 5);
	assert_int_equal(nattable_count(t), n);
	for (size_t i = 0; i < n; i++) {
		const struct nat_row *r = nattable_get(t, i);

		assert_non_null(r);
		assert_string_equal(r->proto, want[i].f[0]);
		assert_string_equal(r->local, want[i].f[1]);
		assert_string_equal(r->public_, want[i].f[2]);
		assert_string_equal(r->alias, want[i].f[3]);
		assert_string_equal(r->proxy, want[i].f[4]);
		assert_string_equal(r->id, want[i].f[5]);
		tcp += strcmp(r->proto, "tcp") == 0;
	}
	assert_null(nattable_get(t, n));
	assert_int_equal(tcp, 1);	/* 1 tcp, 4 udp */
	nattable_free(t);
}

static void parse_and_format(void **state)
{
	struct nat_row r;
	char op, buf[256];

	(void)state;
	assert_int_equal(nat_line_parse("+ udp 10.0.1.2:40000 10.0.2.7:53 10.0.2.1:40000 *:* (id 1234)\n",
					&op, &r), 0);
	assert_int_equal(op, '+');
	assert_string_equal(r.id, "1234");
	assert_string_equal(r.alias, "10.0.2.1:40000");
	assert_string_equal(nat_row_format('-', &r, buf, sizeof(buf)),
			    "- udp 10.0.1.2:40000 10.0.2.7:53 10.0.2.1:40000 *:* (id 1234)");
	assert_int_equal(nat_line_parse("= tcp a:1 b:2 c:3 d:4 (0x8060100)", &op, &r), 0);
	assert_string_equal(nat_row_format(op, &r, buf, sizeof(buf)), "= tcp a:1 b:2 c:3 d:4 (0x8060100)");
	/* Diagnostics, blank lines and broken lines are not NAT log lines. */
	assert_int_equal(nat_line_parse("iptrace: 4 conntrack events, 4 lines", &op, &r), -EINVAL);
	assert_int_equal(nat_line_parse("", &op, &r), -EINVAL);
	assert_int_equal(nat_line_parse("+ udp a:1 b:2 c:3 d:4", &op, &r), -EINVAL);
	assert_int_equal(nat_line_parse("+ udp a:1 b:2 c:3 (id 1)", &op, &r), -EINVAL);
	assert_int_equal(nat_line_parse("+ udp a:1 b:2 c:3 d:4 ()", &op, &r), -EINVAL);
	assert_int_equal(nat_line_parse("* udp a:1 b:2 c:3 d:4 (id 1)", &op, &r), -EINVAL);
}

static void replace_remove_reuse(void **state)
{
	static const char log[] =
		"+ udp a:1 b:2 c:1 *:* (id 1)\n"
		"+ tcp a:5 b:80 c:5 *:* (id 2)\n"
		"junk\n"
		"= udp a:1 b:2 c:9 p:2 (id 1)\n"	/* replaced in place */
		"- tcp x:0 x:0 x:0 *:* (id 7)\n"	/* unknown id: ignored */
		"- tcp a:5 b:80 c:5 *:* (id 2)\n"
		"+ icmp a:3 b:3 c:3 *:* (id 2)\n";	/* an id reused after removal */
	FILE *f = fmemopen((void *)log, sizeof(log) - 1, "r");
	struct nattable *t = nattable_new();
	uint64_t skipped = 0;
	char *out = NULL;
	size_t len;

	(void)state;
	assert_int_equal(nattable_fold(t, f, &skipped), 0);
	fclose(f);
	assert_int_equal(skipped, 1);
	assert_int_equal(nattable_count(t), 2);
	assert_string_equal(nattable_get(t, 0)->alias, "c:9");
	assert_string_equal(nattable_get(t, 0)->proxy, "p:2");
	assert_string_equal(nattable_get(t, 1)->proto, "icmp");

	f = open_memstream(&out, &len);
	assert_int_equal(nattable_print(t, f), 0);
	fclose(f);
	assert_string_equal(out,
			    "Type Local Public Alias Proxy\n"
			    "udp  a:1   b:2    c:9   p:2\n"
			    "icmp a:3   b:3    c:3   *:*\n");
	free(out);
	nattable_free(t);
}

/* Many short flows: the table stays right while slots are reused and the index grows. */
static void many_rows(void **state)
{
	struct nattable *t = nattable_new();
	struct nat_row r;

	(void)state;
	memset(&r, 0, sizeof(r));
	strcpy(r.proto, "udp");
	for (unsigned i = 0; i < 20000; i++) {
		snprintf(r.id, sizeof(r.id), "%u", i);
		snprintf(r.local, sizeof(r.local), "10.0.0.1:%u", i % 65536);
		assert_int_equal(nattable_put(t, &r), 0);
		if (i % 3)
			assert_int_equal(nattable_del(t, r.id), 0);
	}
	assert_int_equal(nattable_count(t), 6667);
	assert_int_equal(nattable_del(t, "1"), -ENOENT);
	assert_string_equal(nattable_get(t, 1)->id, "3");
	assert_string_equal(nattable_get(t, 6666)->id, "19998");
	nattable_free(t);
}

static bool keep_selected(const struct nat_row *row, void *arg)
{
	struct ct_entry e;

	return nat_row_orig(row, &e) == 0 && ct_match(arg, &e);
}

/* Selectors on a folded log match the rows' original tuples. */
static void filter_rows(void **state)
{
	struct nattable *t = nattable_new();
	struct selection sel;
	struct nat_row r;
	struct ct_entry e;
	char err[128];
	FILE *f = fopen(FIXTURE, "r");

	(void)state;
	assert_int_equal(nattable_fold(t, f, NULL), 0);
	fclose(f);
	memset(&sel, 0, sizeof(sel));
	assert_int_equal(sel_parse_ports("80", &sel.ports, err, sizeof(err)), 0);
	assert_int_equal(selection_finish(&sel, 0, err, sizeof(err)), 0);
	assert_int_equal(nattable_filter(t, keep_selected, &sel), 4);
	assert_int_equal(nattable_count(t), 1);
	assert_string_equal(nattable_get(t, 0)->public_, "219.106.255.170:80");
	nattable_free(t);

	memset(&r, 0, sizeof(r));
	strcpy(r.proto, "udp");
	strcpy(r.local, "[2001:db8:1::2]:41307");
	strcpy(r.public_, "[2001:db8:2::2]:53");
	assert_int_equal(nat_row_orig(&r, &e), 0);
	assert_int_equal(e.orig.family, AF_INET6);
	assert_true(e.orig.has_ports && e.orig.sport == 41307 && e.orig.dport == 53);
	strcpy(r.public_, "10.0.0.1:53");	/* mixed families */
	assert_int_equal(nat_row_orig(&r, &e), -EINVAL);
	strcpy(r.proto, "icmp");
	strcpy(r.local, "10.0.1.2:4660");
	assert_int_equal(nat_row_orig(&r, &e), 0);
	assert_true(e.orig.has_icmp && !e.orig.has_ports && e.orig.icmp_id == 4660);
}

/*
 * Id @i of 2^15 crafted ones: 15 pairs, "Ez" or "FY" by the bits of @i. Both pairs add the
 * same to the classic h * 33 + c string hash, so all 32,768 ids have one full hash there.
 */
static void crafted_id(unsigned i, char id[31])
{
	for (int b = 0; b < 15; b++)
		memcpy(id + 2 * b, i >> (14 - b) & 1 ? "FY" : "Ez", 2);
	id[30] = '\0';
}

static size_t djb(const char *s)
{
	size_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* The keyed hash spreads ids that the classic one puts in a single chain. */
static void crafted_ids_spread(void **state)
{
	static unsigned char seen[1u << 15];
	struct siphash_key key;
	char id[31], first[31];
	size_t distinct = 0;

	(void)state;
	crafted_id(0, first);
	siphash_key_random(&key);
	memset(seen, 0, sizeof(seen));
	for (unsigned i = 0; i < 1u << 15; i++) {
		uint64_t h;

		crafted_id(i, id);
		assert_int_equal(djb(id), djb(first));	/* the attack, as crafted */
		h = siphash13(&key, id, strlen(id)) & ((1u << 15) - 1);
		distinct += !seen[h];
		seen[h] = 1;
	}
	/* 2^15 ids into 2^15 buckets: about 2^15 (1 - 1/e) = 20,713 distinct if random. */
	assert_true(distinct > 16000);
	assert_int_equal(siphash13(&key, "1234", 4), siphash13(&key, "1234", 4));
}

/* 32,768 such ids as a NAT log: every row is kept, found and removed by its id. */
static void crafted_ids_fold(void **state)
{
	struct nattable *t = nattable_new();
	char *buf = NULL, id[31];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(t);
	assert_non_null(f);
	for (unsigned i = 0; i < 1u << 15; i++) {
		crafted_id(i, id);
		fprintf(f, "+ udp 10.0.0.1:%u 10.96.0.10:53 10.0.2.7:53 *:* (%s)\n", i, id);
	}
	assert_int_equal(fclose(f), 0);
	f = fmemopen(buf, len, "r");
	assert_non_null(f);
	assert_int_equal(nattable_fold(t, f, NULL), 0);
	fclose(f);
	assert_int_equal(nattable_count(t), 1u << 15);
	for (unsigned i = 0; i < 1u << 15; i += 2) {
		crafted_id(i, id);
		assert_int_equal(nattable_del(t, id), 0);
	}
	assert_int_equal(nattable_count(t), 1u << 14);
	crafted_id(1, id);
	assert_int_equal(nattable_del(t, id), 0);
	assert_int_equal(nattable_del(t, id), -ENOENT);
	nattable_free(t);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fixture_folds_to_its_five_entries),
		cmocka_unit_test(parse_and_format),
		cmocka_unit_test(replace_remove_reuse),
		cmocka_unit_test(many_rows),
		cmocka_unit_test(filter_rows),
		cmocka_unit_test(crafted_ids_spread),
		cmocka_unit_test(crafted_ids_fold),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
