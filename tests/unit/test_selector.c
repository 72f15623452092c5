/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_selector.c: selector parsers, table-driven, and the option parser's refusals */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "iptrace/options.h"
#include "iptrace/selector.h"

static void test_ports(void **state)
{
	static const struct { const char *in; int ok; size_t n; } cases[] = {
		{ "53", 1, 1 }, { "53,853", 1, 2 }, { "8000-8100", 1, 1 }, { "1", 1, 1 },
		{ "65535", 1, 1 }, { "0", 0, 0 }, { "65536", 0, 0 }, { "abc", 0, 0 },
		{ "8100-8000", 0, 0 }, { "53,", 0, 0 }, { "", 0, 0 }, { "-5", 0, 0 },
		{ "5-", 0, 0 }, { "53 ", 0, 0 }, { "+53", 0, 0 }, { "0x35", 0, 0 },
		{ "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15", 1, 15 },
		{ "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", 0, 0 },
	};
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct port_list pl = { 0 };
		int ret = sel_parse_ports(cases[i].in, &pl, err, sizeof(err));

		if (cases[i].ok) {
			assert_int_equal(ret, 0);
			assert_int_equal(pl.n, cases[i].n);
		} else {
			assert_int_equal(ret, -EINVAL);
			assert_true(strlen(err) > 0 && strchr(err, '\n') == NULL);
		}
	}
}

static void test_addrs(void **state)
{
	static const struct { const char *in; int ok; int family; unsigned plen; const char *addr; } cases[] = {
		{ "10.44.0.47", 1, AF_INET, 32, "10.44.0.47" },
		{ "10.0.0.0/8", 1, AF_INET, 8, "10.0.0.0" },
		{ "10.1.2.3/16", 1, AF_INET, 16, "10.1.0.0" },	/* host bits cleared */
		{ "2001:db8::1", 1, AF_INET6, 128, "2001:db8::1" },
		{ "2001:db8::/32", 1, AF_INET6, 32, "2001:db8::" },
		{ "1.2.3", 0, 0, 0, NULL }, { "10.1", 0, 0, 0, NULL }, { "10.0.0.0/33", 0, 0, 0, NULL }, { "::g", 0, 0, 0, NULL },
		{ "10.0.0.0/", 0, 0, 0, NULL }, { "10.0.0.0/-1", 0, 0, 0, NULL }, { "2001:db8::/129", 0, 0, 0, NULL }, { "", 0, 0, 0, NULL },
		{ "256.1.1.1", 0, 0, 0, NULL },
	};
	char err[128], buf[INET6_ADDRSTRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addr_list al = { 0 };
		int ret = sel_parse_addr(cases[i].in, &al, err, sizeof(err));

		if (!cases[i].ok) {
			assert_int_equal(ret, -EINVAL);
			continue;
		}
		assert_int_equal(ret, 0);
		assert_int_equal(al.n, 1);
		assert_int_equal(al.a[0].family, cases[i].family);
		assert_int_equal(al.a[0].plen, cases[i].plen);
		inet_ntop(cases[i].family, &al.a[0].addr, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].addr);
	}
}

static void test_proto_mark_limit(void **state)
{
	struct selection sel = { 0 }, lim = { 0 };
	char err[128];
	char desc[128];

	(void)state;
	assert_int_equal(sel_parse_proto("tcp,udp,132", &sel, err, sizeof(err)), 0);
	assert_int_equal(sel.nprotos, 3);
	assert_int_equal(sel.protos[2], 132);
	assert_int_equal(sel_parse_proto("bogus", &sel, err, sizeof(err)), -EINVAL);
	assert_int_equal(sel_parse_proto("256", &sel, err, sizeof(err)), -EINVAL);
	assert_int_equal(sel_parse_mark("0x4000/0x4000", &sel, err, sizeof(err)), 0);
	assert_int_equal(sel.mark, 0x4000);
	assert_int_equal(sel_parse_mark("12", &sel, err, sizeof(err)), 0);
	assert_int_equal(sel.mark_mask, 0xffffffffu);
	assert_int_equal(sel_parse_mark("x", &sel, err, sizeof(err)), -EINVAL);
	assert_int_equal(sel_parse_limit("100/s", &lim, err, sizeof(err)), 0);
	assert_int_equal(lim.limit, 100);
	assert_int_equal(lim.limit_unit, 1);
	/* Kept per minute or hour: 10/min is not rounded up to 1/s (60/min). */
	assert_int_equal(sel_parse_limit("10/min", &lim, err, sizeof(err)), 0);
	assert_int_equal(lim.limit, 10);
	assert_int_equal(lim.limit_unit, 60);
	assert_true(sel_limit_fits_xt(&lim));
	assert_int_equal(sel_parse_limit("3/hour", &lim, err, sizeof(err)), 0);
	assert_int_equal(lim.limit, 3);
	assert_int_equal(lim.limit_unit, 3600);
	assert_string_equal(selection_describe(&lim, desc, sizeof(desc)), "limit 3/hour");
	/* xt_limit's bound: 10000/s, and 600000/min is as fast. */
	assert_int_equal(sel_parse_limit("10000/s", &lim, err, sizeof(err)), 0);
	assert_true(sel_limit_fits_xt(&lim));
	assert_int_equal(sel_parse_limit("10001/s", &lim, err, sizeof(err)), 0);
	assert_false(sel_limit_fits_xt(&lim));
	assert_int_equal(sel_parse_limit("600001/min", &lim, err, sizeof(err)), 0);
	assert_false(sel_limit_fits_xt(&lim));
	assert_int_equal(sel_parse_limit("100", &lim, err, sizeof(err)), -EINVAL);
	assert_int_equal(sel_parse_limit("0/s", &lim, err, sizeof(err)), -EINVAL);
}

/* The pairs both markers write a rule for: src × dst in order; --host as src then dst. */
static void test_addr_pairs(void **state)
{
	struct selection sel = { 0 };
	const struct addr_prefix *src, *dst;
	char err[128];

	(void)state;
	assert_int_equal(selection_addr_pairs(&sel), 1);
	selection_addr_pair(&sel, 0, &src, &dst);
	assert_null(src);
	assert_null(dst);
	assert_int_equal(sel_parse_addr("10.0.0.1", &sel.src, err, sizeof(err)), 0);
	assert_int_equal(sel_parse_addr("10.0.0.2", &sel.src, err, sizeof(err)), 0);
	assert_int_equal(sel_parse_addr("10.1.0.1", &sel.dst, err, sizeof(err)), 0);
	assert_int_equal(sel_parse_addr("10.1.0.2", &sel.dst, err, sizeof(err)), 0);
	assert_int_equal(sel_parse_addr("10.1.0.3", &sel.dst, err, sizeof(err)), 0);
	assert_int_equal(selection_addr_pairs(&sel), 6);
	selection_addr_pair(&sel, 4, &src, &dst);	/* si 1, di 1 */
	assert_ptr_equal(src, &sel.src.a[1]);
	assert_ptr_equal(dst, &sel.dst.a[1]);
	memset(&sel, 0, sizeof(sel));
	assert_int_equal(sel_parse_addr("10.0.0.1", &sel.host, err, sizeof(err)), 0);
	assert_int_equal(sel_parse_addr("10.0.0.2", &sel.host, err, sizeof(err)), 0);
	assert_int_equal(selection_addr_pairs(&sel), 4);
	selection_addr_pair(&sel, 1, &src, &dst);
	assert_ptr_equal(src, &sel.host.a[1]);
	assert_null(dst);
	selection_addr_pair(&sel, 2, &src, &dst);
	assert_null(src);
	assert_ptr_equal(dst, &sel.host.a[0]);
}

static int parse(const char *args, struct iptrace_opts *o, char *err, size_t errlen)
{
	char buf[256], *argv[32];
	int argc = 0;

	snprintf(buf, sizeof(buf), "iptrace %s", args);
	for (char *t = strtok(buf, " "); t && argc < 31; t = strtok(NULL, " "))
		argv[argc++] = t;
	argv[argc] = NULL;
	return options_parse(argc, argv, o, err, errlen);
}

static void test_options(void **state)
{
	static const char *const bad[] = {
		"", "--port 0", "--port 65536", "--port abc", "--port 90-80", "--dest 1.2.3",
		"--dest 10.0.0.0/33", "--dest ::g", "--proto foo --port 53", "--port 53 --count 0",
		"--port 53 --count -1", "--port 53 --count x", "--port 53 --duration 0",
		"--port 53 --duration abc", "--port 53 --bogus", "-4 --dest 2001:db8::1",
		"-6 --dest 10.0.0.1", "--port 53 --format xml", "--port 53 --backend iptables",
		"--port", "--port 53 extra", "--proto icmp --port 53",
		"--host 10.0.0.1 --dest 10.0.0.2",
	};
	struct iptrace_opts o;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(parse(bad[i], &o, err, sizeof(err)), -EINVAL);
		assert_true(strlen(err) > 0);
	}
	assert_int_equal(parse("--port 53", &o, err, sizeof(err)), 0);
	assert_int_equal(o.sel.families, SEL_IPV4 | SEL_IPV6);
	assert_int_equal(parse("--dest 10.44.0.47 --count 1 -d 2.5", &o, err, sizeof(err)), 0);
	assert_int_equal(o.sel.families, SEL_IPV4);
	assert_int_equal(o.count, 1);
	assert_true(o.duration > 2.4 && o.duration < 2.6);
	assert_int_equal(parse("--read -", &o, err, sizeof(err)), 0);
	assert_int_equal(o.mode, MODE_READ);
	assert_int_equal(parse("--help", &o, err, sizeof(err)), 0);
	assert_int_equal(o.mode, MODE_HELP);
}

/* selection_match: parsed options against tuples, as --read/--replay and --nat-log use it. */
static void test_match(void **state)
{
	static const struct {
		const char *args;
		int family;
		uint8_t proto;
		bool has_ports;
		uint16_t sport, dport;
		const char *src, *dst;
		bool want;
	} cases[] = {
		{ "--read - --port 53", AF_INET, 17, true, 40000, 53, "10.0.0.1", "10.0.0.2", true },
		{ "--read - --port 53", AF_INET, 6, true, 53, 40000, "10.0.0.2", "10.0.0.1", true },
		/* A bare port means TCP and UDP, as in the rules. */
		{ "--read - --port 53", AF_INET, 132, true, 40000, 53, "10.0.0.1", "10.0.0.2", false },
		{ "--read - --port 53", AF_INET, 1, false, 0, 0, "10.0.0.1", "10.0.0.2", false },
		{ "--read - --port 50-60", AF_INET, 17, true, 1, 60, "10.0.0.1", "10.0.0.2", true },
		{ "--read - --dport 53", AF_INET, 17, true, 53, 40000, "10.0.0.1", "10.0.0.2", false },
		{ "--read - --proto sctp --sport 9", AF_INET, 132, true, 9, 1, "10.0.0.1", "10.0.0.2", true },
		{ "--read - --dest 10.0.0.0/24", AF_INET, 1, false, 0, 0, "10.0.1.1", "10.0.0.9", true },
		{ "--read - --dest 10.0.0.0/24", AF_INET, 1, false, 0, 0, "10.0.0.9", "10.0.1.1", false },
		{ "--read - --host 10.0.0.9", AF_INET, 1, false, 0, 0, "10.0.0.9", "10.0.1.1", true },
		{ "--read - --host 10.0.0.9", AF_INET6, 58, false, 0, 0, "::1", "::2", false },
		{ "--read - --src 2001:db8::/32", AF_INET6, 58, false, 0, 0, "2001:db8::1", "::2", true },
		{ "--read - -6", AF_INET, 1, false, 0, 0, "10.0.0.1", "10.0.0.2", false },
		{ "--read - -6", AF_INET6, 17, true, 1, 2, "::1", "::2", true },
		{ "--read - --proto icmp", AF_INET, 1, false, 0, 0, "10.0.0.1", "10.0.0.2", true },
		/* A record of no known family passes nothing. */
		{ "--read - --proto icmp", 0, 1, false, 0, 0, "0.0.0.0", "0.0.0.0", false },
	};
	struct iptrace_opts o;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct in6_addr src = { 0 }, dst = { 0 };
		int af = cases[i].family == AF_INET6 ? AF_INET6 : AF_INET;
		struct sel_tuple t = {
			.family = cases[i].family, .proto = cases[i].proto,
			.has_ports = cases[i].has_ports, .sport = cases[i].sport,
			.dport = cases[i].dport, .src = &src, .dst = &dst,
		};

		assert_int_equal(parse(cases[i].args, &o, err, sizeof(err)), 0);
		assert_int_equal(inet_pton(af, cases[i].src, &src), 1);
		assert_int_equal(inet_pton(af, cases[i].dst, &dst), 1);
		if (selection_match(&o.sel, &t) != cases[i].want)
			fail_msg("case %zu: '%s' should %smatch", i, cases[i].args,
				 cases[i].want ? "" : "not ");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_addrs),
		cmocka_unit_test(test_proto_mark_limit),
		cmocka_unit_test(test_addr_pairs),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_match),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
