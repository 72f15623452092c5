/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test_ct.c: the conntrack decoder and the NAT log on conntrack events recorded behind a NAT */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "iptrace/ct.h"
#include "iptrace/natlog.h"
#include "iptrace/nattable.h"
#include "iptrace/nlrec.h"
#include "test_nlrec.h"
#include "test_util.h"

/* tests/data/ct-events.nlrec: see tests/data/record-ct-events.sh for the flows. */
#define EVENTS TEST_DATA_DIR "/ct-events.nlrec"
#define MAXMSG 64

struct msgs {
	size_t		n;
	uint32_t	*buf[MAXMSG];	/* copies, 4-byte aligned */
};

/* A copy of each message of a chunk (conntrack events only) into @data's msgs. */
static void copy_chunk(void *data, uint16_t source, uint64_t ts_ns, const void *buf, size_t len)
{
	struct msgs *m = data;
	const struct nlmsghdr *nlh = buf;
	int left = (int)len;

	(void)ts_ns;
	assert_int_equal(source, NLREC_CONNTRACK);
	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		assert_true(m->n < MAXMSG);
		m->buf[m->n] = malloc(nlh->nlmsg_len);
		memcpy(m->buf[m->n++], nlh, nlh->nlmsg_len);
	}
}

static int load(void **state)
{
	struct msgs *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	each_chunk(EVENTS, copy_chunk, m);
	*state = m;
	return 0;
}

static int unload(void **state)
{
	struct msgs *m = *state;

	for (size_t i = 0; i < m->n; i++)
		free(m->buf[i]);
	free(m);
	return 0;
}

static uint32_t v4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static bool addr4_is(const struct in6_addr *a, const char *s)
{
	uint32_t x;

	memcpy(&x, a, 4);
	return x == v4(s);
}

/* Find the first event with @op whose original tuple goes to @dst with protocol @proto. */
static bool find(const struct msgs *m, enum ct_op op, uint8_t proto, int family,
		 const char *dst, struct ct_entry *out)
{
	for (size_t i = 0; i < m->n; i++) {
		struct ct_entry e;
		char a[INET6_ADDRSTRLEN];

		if (ct_decode((const struct nlmsghdr *)m->buf[i], &e) < 0)
			continue;
		if (e.op != op || e.orig.proto != proto || e.orig.family != family)
			continue;
		if (strcmp(ct_fmt_addr(&e.orig, true, a, sizeof(a)), dst) != 0)
			continue;
		*out = e;
		return true;
	}
	return false;
}

static void every_message_decodes(void **state)
{
	const struct msgs *m = *state;
	size_t news = 0, dels = 0, upd = 0;

	assert_true(m->n >= 15);
	for (size_t i = 0; i < m->n; i++) {
		struct ct_entry e;

		assert_int_equal(ct_decode((const struct nlmsghdr *)m->buf[i], &e), 0);
		assert_true(e.has_id && e.has_status);
		assert_int_equal(e.orig.family, e.reply.family);
		assert_int_equal(e.orig.proto, e.reply.proto);
		news += e.op == CT_OP_NEW;
		dels += e.op == CT_OP_DESTROY;
		upd += e.op == CT_OP_UPDATE;
	}
	/* Five flows, each created and flushed; replies and TCP states make updates. */
	assert_int_equal(news, 5);
	assert_int_equal(dels, 5);
	assert_true(upd >= 5);
}

static void masquerade_udp(void **state)
{
	struct ct_entry e;

	assert_true(find(*state, CT_OP_NEW, IPPROTO_UDP, AF_INET, "10.0.2.7", &e));
	assert_int_equal(e.family, AF_INET);
	assert_true(addr4_is(&e.orig.src, "10.0.1.2"));
	assert_true(e.orig.has_ports);
	assert_int_equal(e.orig.dport, 53);
	/* Masquerade: the server answers the router's address, at the same port here. */
	assert_true(addr4_is(&e.reply.src, "10.0.2.7"));
	assert_true(addr4_is(&e.reply.dst, "10.0.2.1"));
	assert_int_equal(e.reply.sport, 53);
	assert_int_equal(e.reply.dport, e.orig.sport);
	assert_true(e.status & IPS_SRC_NAT);
	assert_false(e.status & IPS_DST_NAT);
	assert_true(ct_is_snat(&e));
	assert_false(ct_is_dnat(&e));
	assert_true(ct_is_nat(&e));
	assert_true(e.has_timeout && e.timeout > 0 && e.timeout <= 30);
}

static void dnat_udp(void **state)
{
	struct ct_entry e, d;
	char want[256], *got = NULL;
	size_t len;
	FILE *f;

	assert_true(find(*state, CT_OP_NEW, IPPROTO_UDP, AF_INET, "10.96.0.10", &e));
	assert_true(addr4_is(&e.reply.src, "10.0.2.7"));
	assert_true(e.status & IPS_DST_NAT);
	assert_true(ct_is_dnat(&e) && ct_is_snat(&e));
	/* The DESTROY event names the same entry. */
	assert_true(find(*state, CT_OP_DESTROY, IPPROTO_UDP, AF_INET, "10.96.0.10", &d));
	assert_int_equal(d.id, e.id);
	assert_memory_equal(&d.orig, &e.orig, sizeof(e.orig));
	assert_memory_equal(&d.reply, &e.reply, sizeof(e.reply));

	f = open_memstream(&got, &len);
	assert_int_equal(natlog_print_text(f, '+', &e), 0);
	fclose(f);
	snprintf(want, sizeof(want), "+ udp 10.0.1.2:%u 10.96.0.10:53 10.0.2.1:%u 10.0.2.7:53 (id %u)\n",
		 e.orig.sport, e.orig.sport, e.id);
	assert_string_equal(got, want);
	free(got);

	f = open_memstream(&got, &len);
	ct_print_json_obj(f, &e);
	fclose(f);
	assert_non_null(strstr(got, "\"nat\":[\"snat\",\"dnat\"]"));
	assert_non_null(strstr(got, "\"reply\":{\"proto\":\"udp\",\"src\":\"10.0.2.7\",\"dst\":\"10.0.2.1\""));
	free(got);
}

static void tcp_icmp_ipv6(void **state)
{
	struct ct_entry e;
	char buf[64];

	assert_true(find(*state, CT_OP_NEW, IPPROTO_TCP, AF_INET, "10.0.2.7", &e));
	assert_int_equal(e.orig.dport, 80);
	assert_true(ct_is_snat(&e));

	assert_true(find(*state, CT_OP_NEW, IPPROTO_ICMP, AF_INET, "10.0.2.7", &e));
	assert_false(e.orig.has_ports);
	assert_true(e.orig.has_icmp && e.reply.has_icmp);
	assert_int_equal(e.orig.icmp_type, 8);	/* echo request */
	assert_int_equal(e.reply.icmp_type, 0);	/* echo reply */
	assert_int_equal(e.orig.icmp_id, 0x1234);
	assert_true(ct_is_snat(&e));
	assert_false(ct_is_dnat(&e));
	assert_string_equal(ct_fmt_endpoint(&e.orig, false, buf, sizeof(buf)), "10.0.1.2:4660");

	assert_true(find(*state, CT_OP_NEW, IPPROTO_UDP, AF_INET6, "2001:db8:2::2", &e));
	assert_int_equal(e.family, AF_INET6);
	assert_string_equal(ct_fmt_addr(&e.reply, true, buf, sizeof(buf)), "2001:db8:2::1");
	snprintf(buf, sizeof(buf), "[2001:db8:1::2]:%u", e.orig.sport);
	{
		char got[64];

		assert_string_equal(ct_fmt_endpoint(&e.orig, false, got, sizeof(got)), buf);
	}
	assert_true(ct_is_snat(&e));
}

/* Cut every message at every length: the decoder must refuse or accept, never overread. */
static void truncated_messages(void **state)
{
	const struct msgs *m = *state;

	for (size_t i = 0; i < m->n; i++) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)m->buf[i];

		for (uint32_t cut = sizeof(*nlh); cut < nlh->nlmsg_len; cut++) {
			uint32_t *copy = malloc(cut);
			struct ct_entry e;
			int ret;

			memcpy(copy, nlh, cut);
			((struct nlmsghdr *)copy)->nlmsg_len = cut;
			ret = ct_decode((struct nlmsghdr *)copy, &e);
			assert_true(ret == 0 || ret == -EINVAL);
			free(copy);
		}
	}
}

static void put_tuple_v4(struct nlmsghdr *nlh, uint16_t type, bool short_addr)
{
	struct nlattr *tup = mnl_attr_nest_start(nlh, type), *n;

	n = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	if (short_addr)
		mnl_attr_put_u16(nlh, CTA_IP_V4_SRC, 1);
	else
		mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, v4("10.0.0.1"));
	mnl_attr_put_u32(nlh, CTA_IP_V4_DST, v4("10.0.0.2"));
	mnl_attr_nest_end(nlh, n);
	n = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, IPPROTO_UDP);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(1000));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(53));
	mnl_attr_nest_end(nlh, n);
	mnl_attr_nest_end(nlh, tup);
}

static void not_conntrack_or_malformed(void **state)
{
	uint32_t buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;
	struct ct_entry e;

	(void)state;
	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | 0;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_INET;
	assert_int_equal(ct_decode(nlh, &e), -ENOMSG);
	nlh->nlmsg_type = NLMSG_ERROR;
	assert_int_equal(ct_decode(nlh, &e), -ENOMSG);

	/* A conntrack message without tuples is refused. */
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	mnl_attr_put_u32(nlh, CTA_ID, htonl(7));
	assert_int_equal(ct_decode(nlh, &e), -EINVAL);

	/* Two well-formed tuples decode; the same with a 2-byte IPv4 address is refused. */
	for (int bad = 0; bad < 2; bad++) {
		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
		nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
		nfg->nfgen_family = AF_INET;
		put_tuple_v4(nlh, CTA_TUPLE_ORIG, bad);
		put_tuple_v4(nlh, CTA_TUPLE_REPLY, false);
		assert_int_equal(ct_decode(nlh, &e), bad ? -EINVAL : 0);
		if (!bad) {
			assert_int_equal(e.orig.sport, 1000);
			assert_false(e.has_id);
		}
	}
}

static void tuple_from_packet(void **state)
{
	struct pkt_hdr h;
	struct ct_tuple t;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(ct_tuple_from_pkt(&h, &t), -EINVAL);	/* no family */
	h.family = AF_INET;
	h.proto = IPPROTO_UDP;
	memcpy(&h.saddr, (uint32_t[]){ v4("10.0.1.2") }, 4);
	memcpy(&h.daddr, (uint32_t[]){ v4("10.96.0.10") }, 4);
	assert_int_equal(ct_tuple_from_pkt(&h, &t), -EINVAL);	/* ports cut off */
	h.has_l4 = h.has_ports = true;
	h.sport = 40000;
	h.dport = 53;
	assert_int_equal(ct_tuple_from_pkt(&h, &t), 0);
	assert_true(t.has_ports && t.sport == 40000 && t.dport == 53);
	assert_true(addr4_is(&t.dst, "10.96.0.10"));
	h.proto = IPPROTO_ICMP;
	h.has_ports = false;
	h.icmp_type = 3;	/* an error: it belongs to another entry */
	assert_int_equal(ct_tuple_from_pkt(&h, &t), -EINVAL);
	h.icmp_type = 8;
	h.icmp_ident = 0x1234;
	assert_int_equal(ct_tuple_from_pkt(&h, &t), 0);
	assert_true(t.has_icmp && t.icmp_id == 0x1234 && t.icmp_type == 8);
}

/* natlog_run() with @o, its output to a file of its own; what it wrote (caller frees). */
static char *run_natlog(const struct iptrace_opts *o)
{
	static const volatile sig_atomic_t stop;
	char dir[] = "/tmp/test_ct.XXXXXX", path[64], *out;
	struct output *output;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out", dir);
	output = output_open(path, NULL, NULL);
	assert_non_null(output);
	assert_int_equal(natlog_run(o, output, &stop, NULL), 0);
	output_close(output);
	out = slurp_path(path);
	unlink(path);
	rmdir(dir);
	return out;
}

/* Run the recording through the --nat-log path itself and return what it printed. */
static char *replay_log(struct iptrace_opts *o)
{
	o->input = EVENTS;
	if (!o->format)
		o->format = "text";
	return run_natlog(o);
}

static size_t count_lines(const char *s, char op)
{
	size_t n = 0;

	for (const char *p = s; *p; p = strchr(p, '\n') + 1) {
		n += *p == op;
		if (!strchr(p, '\n'))
			break;
	}
	return n;
}

/*
 * A corrupt recording (found by tests/fuzz/fuzz_ct): a message whose nlmsg_len is 2^31 or
 * more reads as negative to libmnl's mnl_nlmsg_ok(), which then walked out of the chunk.
 * The messages before it are printed; it counts as malformed.
 */
static void natlog_replay_huge_len(void **state)
{
	char dir[] = "/tmp/test_ct.XXXXXX", path[64], *out = NULL;
	struct nlrec *r = nlrec_open(EVENTS);
	struct iptrace_opts o = { .format = "json", .nat_all = true };
	const struct nlmsghdr *first;
	uint32_t buf[256];
	struct nlmsghdr *bad;
	const void *chunk;
	uint16_t src;
	uint64_t ts;
	size_t len, mlen;

	(void)state;
	assert_non_null(r);
	assert_int_equal(nlrec_next(r, &src, &ts, &chunk, &len), 1);
	first = chunk;
	mlen = NLMSG_ALIGN(first->nlmsg_len);
	assert_true(2 * mlen <= sizeof(buf) && mlen <= len);
	memcpy(buf, first, mlen);
	bad = (struct nlmsghdr *)((char *)buf + mlen);
	memcpy(bad, first, mlen);
	bad->nlmsg_len = 0xddffffff;
	nlrec_close(r);
	assert_int_equal(nlrec_whole_msgs(buf, 2 * mlen), mlen);
	assert_int_equal(nlrec_whole_msgs(buf, mlen), mlen);
	assert_int_equal(nlrec_whole_msgs(buf, mlen - 1), 0);

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bad.nlrec", dir);
	r = nlrec_create(path);
	assert_non_null(r);
	assert_int_equal(nlrec_write(r, NLREC_CONNTRACK, 1, buf, 2 * mlen), 0);
	assert_int_equal(nlrec_close(r), 0);
	o.input = path;
	out = run_natlog(&o);
	unlink(path);
	rmdir(dir);
	assert_int_equal(count_lines(out, '{'), 2);	/* the good event and the summary */
	assert_non_null(strstr(out, "\"events\":1,"));
	assert_non_null(strstr(out, "\"malformed\":1}"));
	free(out);
}

static void natlog_replay_filters(void **state)
{
	struct iptrace_opts o;
	char err[128], *out;
	FILE *f;
	struct nattable *t;
	uint64_t skipped = 0;

	(void)state;
	memset(&o, 0, sizeof(o));
	out = replay_log(&o);
	assert_int_equal(count_lines(out, '+'), 5);
	assert_int_equal(count_lines(out, '-'), 5);
	/* Everything was flushed at the end: the fold of the whole log is empty. */
	t = nattable_new();
	f = fmemopen(out, strlen(out), "r");
	assert_int_equal(nattable_fold(t, f, &skipped), 0);
	fclose(f);
	assert_int_equal(nattable_count(t), 0);
	assert_int_equal(skipped, 0);
	nattable_free(t);
	free(out);

	/* --port 53: the three DNS flows (v4 direct, v4 DNAT, v6). */
	memset(&o, 0, sizeof(o));
	assert_int_equal(sel_parse_ports("53", &o.sel.ports, err, sizeof(err)), 0);
	assert_int_equal(selection_finish(&o.sel, 0, err, sizeof(err)), 0);
	out = replay_log(&o);
	assert_int_equal(count_lines(out, '+'), 3);
	free(out);

	/* --dest 10.96.0.10: the DNAT flow only, by its original destination. */
	memset(&o, 0, sizeof(o));
	assert_int_equal(sel_parse_addr("10.96.0.10", &o.sel.dst, err, sizeof(err)), 0);
	assert_int_equal(selection_finish(&o.sel, 0, err, sizeof(err)), 0);
	out = replay_log(&o);
	assert_int_equal(count_lines(out, '+'), 1);
	assert_non_null(strstr(out, " 10.96.0.10:53 10.0.2.1:"));
	free(out);

	/* --count 2 stops after two lines; json lines carry the named fields. */
	memset(&o, 0, sizeof(o));
	o.count = 2;
	o.format = "json";
	out = replay_log(&o);
	assert_int_equal(count_lines(out, '{'), 3);	/* two events and the summary */
	assert_non_null(strstr(out, "{\"type\":\"nat\",\"op\":\"+\",\"family\":\"ipv4\",\"proto\":\"udp\","));
	assert_non_null(strstr(out, "\"status\":[\"confirmed\",\"src_nat\""));
	assert_non_null(strstr(out, "{\"type\":\"summary\",\"events\":"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_message_decodes),
		cmocka_unit_test(masquerade_udp),
		cmocka_unit_test(dnat_udp),
		cmocka_unit_test(tcp_icmp_ipv6),
		cmocka_unit_test(truncated_messages),
		cmocka_unit_test(not_conntrack_or_malformed),
		cmocka_unit_test(tuple_from_packet),
		cmocka_unit_test(natlog_replay_filters),
		cmocka_unit_test(natlog_replay_huge_len),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, load, unload);
}
