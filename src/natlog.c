/* SPDX-License-Identifier: GPL-2.0-or-later */
/* natlog.c: conntrack events as a NAT log, a table dump as the NAT table, lookups for --nat */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "iptrace/diag.h"
#include "iptrace/loop.h"
#include "iptrace/natlog.h"
#include "iptrace/nattable.h"
#include "iptrace/nlattr.h"
#include "iptrace/nlrec.h"
#include "iptrace/sink.h"

#define EVENTS_SYSCTL "/proc/sys/net/netfilter/nf_conntrack_events"

/* ---- selection on the original tuple ---- */

bool ct_match(const struct selection *sel, const struct ct_entry *e)
{
	const struct ct_tuple *t = &e->orig;
	struct sel_tuple st = {
		.family = t->family, .proto = t->proto, .has_ports = t->has_ports,
		.sport = t->sport, .dport = t->dport, .src = &t->src, .dst = &t->dst,
	};

	return selection_match(sel, &st);
}

/* ---- formatting ---- */

int natlog_print_text(FILE *out, char op, const struct ct_entry *e)
{
	struct nat_row row;
	char line[512];

	nat_row_from_ct(e, &row);
	fprintf(out, "%s\n", nat_row_format(op, &row, line, sizeof(line)));
	return ferror(out) ? -EIO : 0;
}

static const char *family_name(const struct ct_entry *e)
{
	return e->orig.family == AF_INET6 ? "ipv6" : "ipv4";
}

int natlog_print_json(FILE *out, char op, const struct ct_entry *e)
{
	char st[CT_STATUS_JSON_MAX];
	struct nat_row row;
	char pbuf[4];

	nat_row_from_ct(e, &row);
	fprintf(out, "{\"type\":\"nat\",\"op\":\"%c\",\"family\":\"%s\",\"proto\":\"%s\","
		"\"local\":\"%s\",\"public\":\"%s\",\"alias\":\"%s\",\"proxy\":", op,
		family_name(e), ct_proto_name(e->orig.proto, pbuf, sizeof(pbuf)), row.local,
		row.public_, row.alias);
	if (strcmp(row.proxy, "*:*") == 0)
		fputs("null", out);
	else
		fprintf(out, "\"%s\"", row.proxy);
	if (e->has_id)
		fprintf(out, ",\"id\":%" PRIu32, e->id);
	else
		fputs(",\"id\":null", out);
	fputs(",\"status\":", out);
	fputs(ct_status_json(st, sizeof(st), e->has_status ? e->status : 0), out);
	if (e->has_timeout)
		fprintf(out, ",\"timeout\":%" PRIu32, e->timeout);
	else
		fputs(",\"timeout\":null", out);
	fputs("}\n", out);
	return ferror(out) ? -EIO : 0;
}

static void put_tuple_json(FILE *out, const struct ct_tuple *t)
{
	char a[INET6_ADDRSTRLEN], pbuf[4];

	fprintf(out, "{\"proto\":\"%s\",\"src\":\"%s\"",
		ct_proto_name(t->proto, pbuf, sizeof(pbuf)), ct_fmt_addr(t, false, a, sizeof(a)));
	fprintf(out, ",\"dst\":\"%s\"", ct_fmt_addr(t, true, a, sizeof(a)));
	if (t->has_ports)
		fprintf(out, ",\"sport\":%u,\"dport\":%u", t->sport, t->dport);
	if (t->has_icmp)
		fprintf(out, ",\"icmp_id\":%u,\"icmp_type\":%u,\"icmp_code\":%u", t->icmp_id,
			t->icmp_type, t->icmp_code);
	putc('}', out);
}

void ct_print_json_obj(FILE *out, const struct ct_entry *e)
{
	char st[CT_STATUS_JSON_MAX];
	bool s = ct_is_snat(e), d = ct_is_dnat(e);

	fprintf(out, "{\"id\":%" PRIu32 ",\"orig\":", e->id);
	put_tuple_json(out, &e->orig);
	fputs(",\"reply\":", out);
	put_tuple_json(out, &e->reply);
	fprintf(out, ",\"nat\":[%s%s%s],\"status\":", s ? "\"snat\"" : "", s && d ? "," : "",
		d ? "\"dnat\"" : "");
	fputs(ct_status_json(st, sizeof(st), e->has_status ? e->status : 0), out);
	putc('}', out);
}

void ct_print_text_line(FILE *out, const struct ct_entry *e)
{
	char a[64], b[64], c[64], d[64], pbuf[4];
	bool s = ct_is_snat(e), dn = ct_is_dnat(e);

	fprintf(out, "ct id %" PRIu32 " %s %s > %s, reply %s > %s%s%s%s\n", e->id,
		ct_proto_name(e->orig.proto, pbuf, sizeof(pbuf)),
		ct_fmt_endpoint(&e->orig, false, a, sizeof(a)),
		ct_fmt_endpoint(&e->orig, true, b, sizeof(b)),
		ct_fmt_endpoint(&e->reply, false, c, sizeof(c)),
		ct_fmt_endpoint(&e->reply, true, d, sizeof(d)),
		s || dn ? "," : ", no nat", s ? " snat" : "", dn ? " dnat" : "");
}

/* ---- the live log ---- */

/*
 * Status last printed per conntrack id, so an update that changes nothing the log shows
 * (a TCP state step) prints no '=' line. Open addressing; a tombstone keeps probe chains.
 */
struct seen_slot {
	uint32_t	id, status;
	uint8_t		state;	/* 0 empty, 1 used, 2 deleted */
};

struct seen {
	struct seen_slot	*s;
	size_t			cap, used, tombs;	/* cap: a power of two */
};

static struct seen_slot *seen_find(struct seen *m, uint32_t id, bool insert)
{
	struct seen_slot *tomb = NULL;

	if (!m->cap)
		return NULL;
	for (size_t i = (id * 2654435761u) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct seen_slot *s = &m->s[i];

		if (s->state == 0)
			return insert ? (tomb ? tomb : s) : NULL;
		if (s->state == 2 && !tomb)
			tomb = s;
		if (s->state == 1 && s->id == id)
			return s;
	}
}

static int seen_grow(struct seen *m)
{
	struct seen old = *m;
	size_t cap = m->cap ? (m->used * 4 > m->cap ? m->cap * 2 : m->cap) : 256;

	m->s = calloc(cap, sizeof(*m->s));
	if (!m->s) {
		*m = old;
		return -ENOMEM;
	}
	m->cap = cap;
	m->used = m->tombs = 0;
	for (size_t i = 0; i < old.cap; i++) {
		if (old.s[i].state == 1) {
			struct seen_slot *s = seen_find(m, old.s[i].id, true);

			*s = old.s[i];
			m->used++;
		}
	}
	free(old.s);
	return 0;
}

/* seen_update - remember @status for @id; true when it differs from what was known. */
static bool seen_update(struct seen *m, uint32_t id, uint32_t status)
{
	struct seen_slot *s;

	if ((m->used + m->tombs + 1) * 2 > m->cap && seen_grow(m) < 0)
		return true;	/* no memory to remember: print rather than hide */
	s = seen_find(m, id, true);
	if (s->state == 1) {
		if (s->status == status)
			return false;
		s->status = status;
		return true;
	}
	if (s->state == 2)
		m->tombs--;
	*s = (struct seen_slot){ id, status, 1 };
	m->used++;
	return true;
}

static void seen_forget(struct seen *m, uint32_t id)
{
	struct seen_slot *s = seen_find(m, id, false);

	if (s) {
		s->state = 2;
		m->used--;
		m->tombs++;
	}
}

struct natlog {
	const struct iptrace_opts	*o;
	struct output			*output;
	FILE				*out;
	bool				json;
	struct seen			seen;
	uint64_t			events, printed, malformed, overruns;
	bool				done;	/* --count reached or output gone */
	bool				started;	/* a summary is due */
};

/* The mnl callback: the live socket and a recorded file both come through here. */
static int on_event(const struct nlmsghdr *nlh, void *data)
{
	struct natlog *nl = data;
	struct ct_entry e;
	char op;
	int ret;

	ret = ct_decode(nlh, &e);
	if (ret == -ENOMSG)
		return MNL_CB_OK;
	if (ret < 0) {
		nl->malformed++;
		return MNL_CB_OK;
	}
	nl->events++;
	if ((!nl->o->nat_all && !ct_is_nat(&e)) || !ct_match(&nl->o->sel, &e))
		return MNL_CB_OK;
	switch (e.op) {
	case CT_OP_NEW:
		op = '+';
		seen_update(&nl->seen, e.id, e.status);
		break;
	case CT_OP_DESTROY:
		op = '-';
		seen_forget(&nl->seen, e.id);
		break;
	default:
		op = '=';
		if (!seen_update(&nl->seen, e.id, e.status))
			return MNL_CB_OK;
		break;
	}
	ret = nl->json ? natlog_print_json(nl->out, op, &e) : natlog_print_text(nl->out, op, &e);
	/* A line at a time: the log is read with tail -f and folded while it grows. */
	if (ret < 0 || fflush(nl->out) == EOF) {
		/* A closed pipe (| head) ends the log like a signal; main says other errors. */
		nl->done = true;
		return MNL_CB_STOP;
	}
	nl->printed++;
	if (nl->o->count && nl->printed >= nl->o->count) {
		nl->done = true;
		return MNL_CB_STOP;
	}
	return MNL_CB_OK;
}

/* The sysctl's value, or -1 when it can't be read. */
static int events_sysctl(void)
{
	FILE *f = fopen(EVENTS_SYSCTL, "re");
	int v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static struct mnl_socket *open_events(int *err)
{
	static const int groups[] = {
		NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE, NFNLGRP_CONNTRACK_DESTROY,
	};
	struct mnl_socket *sk = mnl_socket_open(NETLINK_NETFILTER);

	if (!sk)
		goto err;
	if (mnl_socket_bind(sk, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err_close;
	/* A burst of new flows overruns the default buffer; ENOBUFS is counted, not fatal. */
	rxbatch_rcvbuf(mnl_socket_get_fd(sk), 16u << 20);
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (mnl_socket_setsockopt(sk, NETLINK_ADD_MEMBERSHIP, (void *)&groups[i],
					  sizeof(groups[i])) < 0)
			goto err_close;
	return sk;

err_close:
	*err = errno;
	mnl_socket_close(sk);
	errno = *err;
err:
	*err = errno;
	return NULL;
}

/* The events of one buffer, live or replayed: a message claiming more than it holds ends it. */
static void walk_events(struct natlog *nl, const void *buf, size_t len)
{
	bool broken;

	nlrec_walk(buf, len, on_event, nl, &broken);
	if (broken)
		nl->malformed++;
}

static int replay(struct natlog *nl, const char *path, const volatile sig_atomic_t *stop)
{
	struct nlrec *r = nlrec_open(path);
	const void *buf;
	uint16_t source;
	uint64_t ts, others = 0;
	size_t len;
	int ret = 0;

	if (!r) {
		diag_error("cannot open '%s': %s", path,
			   errno == EINVAL ? "not a recorded netlink file" : strerror(errno));
		return EXIT_FAILURE;
	}
	nl->started = true;
	if (output_start(nl->output) < 0)
		nl->done = true;
	while (!*stop && !nl->done && (ret = nlrec_next(r, &source, &ts, &buf, &len)) > 0) {
		if (source == NLREC_CONNTRACK)
			walk_events(nl, buf, len);
		else
			others++;
	}
	nlrec_close(r);
	if (ret < 0) {
		diag_error("'%s' is truncated or corrupt", path);
		return EXIT_FAILURE;
	}
	if (others && !nl->events)
		diag_note("'%s' holds trace records, no conntrack events: replay it with --replay "
			  "(without --nat-log)", path);
	return 0;
}

/* What the loop (loop.c) feeds while logging live. */
struct natlog_feed {
	struct natlog	*nl;
	struct nlrec	*rec;	/* --record, or NULL */
};

static int feed_datagram(void *ctx, uint16_t source, uint64_t mono, uint64_t wall,
			 const void *buf, size_t len)
{
	struct natlog_feed *f = ctx;

	(void)wall;
	if (f->rec)
		nlrec_write(f->rec, source, mono, buf, len);
	walk_events(f->nl, buf, len);
	return 0;	/* a closed output sets done: the loop ends like on --count */
}

static void feed_overrun(void *ctx, uint16_t source)
{
	struct natlog *nl = ((struct natlog_feed *)ctx)->nl;

	(void)source;
	if (!nl->overruns)
		diag_warning("the kernel is dropping conntrack events (socket overrun): some NAT "
			     "log lines are missing");
	nl->overruns++;
}

static bool feed_done(void *ctx)
{
	return ((struct natlog_feed *)ctx)->nl->done;
}

/* Conntrack events are small: a 64-slot batch of 8 KiB slots holds any. */
#define EVENT_BATCH	64
#define EVENT_SLOT	(8u << 10)

static int live(struct natlog *nl, const volatile sig_atomic_t *stop, const sigset_t *waitmask)
{
	static const struct loop_ops ops = {
		.datagram = feed_datagram, .overrun = feed_overrun, .done = feed_done,
	};
	const struct iptrace_opts *o = nl->o;
	struct natlog_feed feed = { .nl = nl };
	struct loop_source src;
	struct loop_cfg cfg = {
		.src = &src, .nsrc = 1,
		.end_ns = loop_end_ns(o->duration),
		.stop = stop, .waitmask = waitmask, .ops = &ops, .ctx = &feed,
	};
	struct rxbatch *rx = NULL;
	struct mnl_socket *sk;
	enum loop_stage stage;
	int err, rc = 0, ret;

	if (events_sysctl() == 0) {
		diag_error("conntrack events are off in this namespace (net.netfilter.nf_conntrack_events"
			   "=0): no NAT log can be made; set it to 1 or 2 first");
		return EXIT_FAILURE;
	}
	sk = open_events(&err);
	if (!sk) {
		diag_error("cannot subscribe to conntrack events: %s", strerror(err));
		return EXIT_FAILURE;
	}
	rx = rxbatch_new(EVENT_BATCH, EVENT_SLOT);
	if (!rx) {
		diag_error("out of memory");
		rc = EXIT_FAILURE;
		goto out_close;
	}
	if (o->record) {
		feed.rec = nlrec_create(o->record);
		if (!feed.rec) {
			diag_error("cannot create '%s': %s", o->record, strerror(errno));
			rc = EXIT_FAILURE;
			goto out_close;
		}
	}
	/* The events sysctl is 2 on recent kernels: only flows started from now on are seen. */
	diag_info("tracing NAT table changes (conntrack events, %s entries; flows that started "
		  "before now are not shown; pid %ld); Ctrl-C to stop", o->nat_all ? "all" : "NAT",
		  (long)getpid());
	nl->started = true;
	src = (struct loop_source){ mnl_socket_get_fd(sk), NLREC_CONNTRACK };
	cfg.rx = rx;
	/* Subscribed: an existing output file is emptied only now (main says a failure). */
	ret = output_start(nl->output) < 0 ? 0 : loop_run(&cfg, &stage);
	if (ret < 0) {
		diag_error("%s: %s", stage == LOOP_POLL ? "poll" : "receiving conntrack events",
			   strerror(-ret));
		rc = EXIT_FAILURE;
	}
	if (feed.rec && nlrec_close(feed.rec) < 0) {
		diag_error("cannot write to '%s': %s", o->record, strerror(errno));
		rc = rc ? rc : EXIT_FAILURE;
	}
out_close:
	rxbatch_free(rx);
	mnl_socket_close(sk);
	return rc;
}

int natlog_run(const struct iptrace_opts *o, struct output *out,
	       const volatile sig_atomic_t *stop, const sigset_t *waitmask)
{
	struct natlog nl = {
		.o = o, .output = out, .out = output_file(out), .json = strcmp(o->format, "json") == 0,
	};
	bool failed;
	int rc;

	rc = o->input ? replay(&nl, o->input, stop) : live(&nl, stop, waitmask);
	if (!nl.started)
		return rc;
	if (nl.json)
		fprintf(nl.out, "{\"type\":\"summary\",\"events\":%" PRIu64 ",\"printed\":%" PRIu64
			",\"overruns\":%" PRIu64 ",\"malformed\":%" PRIu64 "}\n", nl.events,
			nl.printed, nl.overruns, nl.malformed);
	/* A failed write is said first, once, with its reason; the summary says it too. */
	failed = output_say_error(out);
	/* Conntrack events carry no sequence number: the overruns are what can be counted. */
	diag_info("%" PRIu64 " conntrack events, %" PRIu64 " lines, %" PRIu64 " socket overruns%s%s%s",
		  nl.events, nl.printed, nl.overruns, nl.overruns ? " (events were lost)" : "",
		  nl.malformed ? ", some messages malformed" : "",
		  failed ? "; the output failed: not all lines were written" : "");
	free(nl.seen.s);
	return failed ? EXIT_FAILURE : rc;
}

/* ---- the table ---- */

struct dump_ctx {
	const struct iptrace_opts	*o;
	struct nattable			*t;
	int				err;
};

static int on_dump(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	struct ct_entry e;
	struct nat_row row;

	if (ct_decode(nlh, &e) < 0)
		return MNL_CB_OK;
	if ((!d->o->nat_all && !ct_is_nat(&e)) || !ct_match(&d->o->sel, &e))
		return MNL_CB_OK;
	nat_row_from_ct(&e, &row);
	if (nattable_put(d->t, &row) < 0) {
		d->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

/* Ask for the whole table and put every matching entry into @t. 0 or -errno. */
static int dump_table(const struct iptrace_opts *o, struct nattable *t)
{
	static uint32_t buf[32768 / 4];	/* the kernel fills dump batches up to 32 KiB */
	struct dump_ctx d = { o, t, 0 };
	struct mnl_socket *sk = mnl_socket_open(NETLINK_NETFILTER);
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL), portid;
	int ret = 0;

	if (!sk)
		return -errno;
	if (mnl_socket_bind(sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(sk);
	nlh = nlattr_put_nfnl_header(buf, NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET,
				     AF_UNSPEC /* every family */, NLM_F_DUMP, seq);
	if (mnl_socket_sendto(sk, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(sk, buf, sizeof(buf));

		if (n < 0) {
			ret = -errno;
			break;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, on_dump, &d);
		if (ret <= MNL_CB_STOP) {
			ret = ret < 0 ? (d.err ? d.err : -errno) : 0;
			break;
		}
	}
out:
	mnl_socket_close(sk);
	return ret;
}

/* Selectors on a folded row: a row that isn't iptrace's own text can't match one. */
static bool row_selected(const struct nat_row *row, void *arg)
{
	const struct selection *sel = arg;
	struct ct_entry e;

	return nat_row_orig(row, &e) == 0 && ct_match(sel, &e);
}

int nattable_run(const struct iptrace_opts *o, struct output *output)
{
	FILE *out = output_file(output);
	struct nattable *t = nattable_new();
	uint64_t skipped = 0;
	int ret, rc = 0;

	if (!t) {
		diag_error("out of memory");
		return EXIT_FAILURE;
	}
	if (o->input) {
		FILE *in = strcmp(o->input, "-") == 0 ? stdin : fopen(o->input, "re");

		if (!in) {
			diag_error("cannot open '%s': %s", o->input, strerror(errno));
			rc = EXIT_FAILURE;
			goto out;
		}
		ret = nattable_fold(t, in, &skipped);
		if (in != stdin)
			fclose(in);
		if (ret < 0) {
			diag_error("cannot read '%s': %s", o->input, strerror(-ret));
			rc = EXIT_FAILURE;
			goto out;
		}
		if (skipped == 1)
			diag_warning("1 line of '%s' is not a NAT log line: skipped", o->input);
		else if (skipped)
			diag_warning("%" PRIu64 " lines of '%s' are not NAT log lines: skipped", skipped,
				     o->input);
		if (!selection_empty(&o->sel))
			nattable_filter(t, row_selected, (void *)&o->sel);
	} else {
		ret = dump_table(o, t);
		if (ret < 0) {
			diag_error("cannot dump the conntrack table: %s", strerror(-ret));
			rc = EXIT_FAILURE;
			goto out;
		}
	}
	/* Read or dumped: only now is an existing output file emptied. */
	if (output_start(output) < 0)
		rc = EXIT_FAILURE;
	else if (strcmp(o->format, "json") == 0 ? nattable_print_json(t, out) < 0 :
		 nattable_print(t, out) < 0)
		rc = EXIT_FAILURE;	/* said by main, with the system's reason */
out:
	nattable_free(t);
	return rc;
}

/* ---- lookups for --nat ---- */

struct ct_lookup {
	struct mnl_socket	*sk;
	uint32_t		seq;
};

struct ct_lookup *ct_lookup_open(void)
{
	struct ct_lookup *cl = calloc(1, sizeof(*cl));
	int err;

	if (!cl)
		return NULL;
	cl->sk = mnl_socket_open(NETLINK_NETFILTER);
	if (!cl->sk)
		goto err_free;
	if (mnl_socket_bind(cl->sk, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err_close;
	cl->seq = (uint32_t)time(NULL);
	return cl;

err_close:
	err = errno;
	mnl_socket_close(cl->sk);
	errno = err;
err_free:
	err = errno;
	free(cl);
	errno = err;
	return NULL;
}

void ct_lookup_close(struct ct_lookup *cl)
{
	if (!cl)
		return;
	mnl_socket_close(cl->sk);
	free(cl);
}

static void put_tuple(struct nlmsghdr *nlh, uint16_t type, const struct ct_tuple *t)
{
	struct nlattr *tup = mnl_attr_nest_start(nlh, type), *n;

	n = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	if (t->family == AF_INET6) {
		mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, &t->src);
		mnl_attr_put(nlh, CTA_IP_V6_DST, 16, &t->dst);
	} else {
		mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, &t->src);
		mnl_attr_put(nlh, CTA_IP_V4_DST, 4, &t->dst);
	}
	mnl_attr_nest_end(nlh, n);
	n = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t->proto);
	if (t->has_ports) {
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(t->sport));
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(t->dport));
	} else if (t->has_icmp) {
		bool v6 = t->family == AF_INET6;

		mnl_attr_put_u16(nlh, v6 ? CTA_PROTO_ICMPV6_ID : CTA_PROTO_ICMP_ID, htons(t->icmp_id));
		mnl_attr_put_u8(nlh, v6 ? CTA_PROTO_ICMPV6_TYPE : CTA_PROTO_ICMP_TYPE, t->icmp_type);
		mnl_attr_put_u8(nlh, v6 ? CTA_PROTO_ICMPV6_CODE : CTA_PROTO_ICMP_CODE, t->icmp_code);
	}
	mnl_attr_nest_end(nlh, n);
	mnl_attr_nest_end(nlh, tup);
}

struct get_ctx {
	struct ct_entry		*e;
	const struct ct_tuple	*want;	/* a dump's: only entries holding it count */
	unsigned int		found;
};

/* @a is @t, as far as @t names it. */
static bool tuple_is(const struct ct_tuple *a, const struct ct_tuple *t)
{
	if (a->family != t->family || a->proto != t->proto ||
	    memcmp(&a->src, &t->src, sizeof(a->src)) || memcmp(&a->dst, &t->dst, sizeof(a->dst)))
		return false;
	if (t->has_ports)
		return a->has_ports && a->sport == t->sport && a->dport == t->dport;
	if (t->has_icmp)
		return a->has_icmp && a->icmp_id == t->icmp_id && a->icmp_type == t->icmp_type &&
		       a->icmp_code == t->icmp_code;
	return true;
}

static int on_get(const struct nlmsghdr *nlh, void *data)
{
	struct get_ctx *g = data;
	struct ct_entry e;

	if (ct_decode(nlh, &e) < 0)
		return MNL_CB_OK;
	/* A kernel that ignores the dump's filter (before 5.8) sends every entry. */
	if (g->want && !tuple_is(&e.orig, g->want) && !tuple_is(&e.reply, g->want))
		return MNL_CB_OK;
	/* A second entry (the tuple in two zones) is not copied: the caller takes neither. */
	if (g->found++ == 0)
		*g->e = e;
	return MNL_CB_OK;
}

/* Send @nlh, run the answers through on_get() until the ACK or the dump's end. */
static int ct_ask(struct ct_lookup *cl, struct nlmsghdr *nlh, struct get_ctx *g)
{
	uint32_t buf[MNL_SOCKET_BUFFER_SIZE / 4];	/* the kernel sizes a dump's batches to it */
	uint32_t seq = nlh->nlmsg_seq;
	int ret;

	if (mnl_socket_sendto(cl->sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		ssize_t n = mnl_socket_recvfrom(cl->sk, buf, sizeof(buf));

		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(cl->sk), on_get, g);
	} while (ret > MNL_CB_STOP);
	return ret < 0 ? -errno : 0;
}

/*
 * The kernel's CTA_FILTER flags (net/netfilter/nf_internals.h, not in the uapi headers;
 * libnetfilter_conntrack sends the same bits): which fields of the filter's tuple count.
 */
#define CT_FILTER_IP_SRC	(1U << 0)
#define CT_FILTER_IP_DST	(1U << 1)
#define CT_FILTER_PROTO_NUM	(1U << 3)
#define CT_FILTER_PORTS		(3U << 4)	/* source and destination port */
#define CT_FILTER_ICMP		(7U << 6)	/* type, code, id */
#define CT_FILTER_ICMPV6	(7U << 9)

/* Every zone's entries whose @dir tuple (CTA_TUPLE_ORIG or _REPLY) is @t, into @g. */
static int ct_dump_tuple(struct ct_lookup *cl, const struct ct_tuple *t, uint16_t dir,
			 struct get_ctx *g)
{
	uint32_t buf[256];
	struct nlmsghdr *nlh = nlattr_put_nfnl_header(buf, NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET,
						      t->family, NLM_F_DUMP, ++cl->seq);
	uint32_t flags = CT_FILTER_IP_SRC | CT_FILTER_IP_DST | CT_FILTER_PROTO_NUM;
	struct nlattr *f;

	g->want = t;
	if (t->has_ports)
		flags |= CT_FILTER_PORTS;
	else if (t->has_icmp)
		flags |= t->family == AF_INET6 ? CT_FILTER_ICMPV6 : CT_FILTER_ICMP;
	put_tuple(nlh, dir, t);
	f = mnl_attr_nest_start(nlh, CTA_FILTER);
	mnl_attr_put_u32(nlh, dir == CTA_TUPLE_ORIG ? CTA_FILTER_ORIG_FLAGS : CTA_FILTER_REPLY_FLAGS,
			 flags);
	mnl_attr_nest_end(nlh, f);
	return ct_ask(cl, nlh, g);
}

int ct_lookup_get(struct ct_lookup *cl, const struct ct_tuple *t, bool any_zone,
		  struct ct_entry *e)
{
	uint32_t buf[256];
	struct get_ctx g = { e, NULL, 0 };
	struct nlmsghdr *nlh = nlattr_put_nfnl_header(buf, NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_GET,
						      t->family, NLM_F_ACK, ++cl->seq);
	int ret;

	/* The kernel finds the entry by either direction's tuple under this attribute. */
	put_tuple(nlh, CTA_TUPLE_ORIG, t);
	ret = ct_ask(cl, nlh, &g);
	if (ret != -ENOENT || !any_zone)
		return ret < 0 ? ret : g.found ? 0 : -ENOENT;
	/*
	 * A GET looks in zone 0 only. A connection put in another zone (-j CT --zone, nft's
	 * ct zone set: OpenStack's, OVN's hosts) is found by a dump filtered by the tuple,
	 * which sees every zone. The kernel walks every namespace's buckets for it: only on
	 * request. The same tuple in two zones is two connections: neither is taken.
	 */
	ret = ct_dump_tuple(cl, t, CTA_TUPLE_ORIG, &g);
	if (ret == 0 && !g.found)
		ret = ct_dump_tuple(cl, t, CTA_TUPLE_REPLY, &g);
	if (ret < 0)
		return ret;
	return g.found == 1 ? 0 : -ENOENT;
}
