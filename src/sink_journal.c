/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink_journal.c: one journal entry per packet, over journald's native protocol */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "iptrace/diag.h"
#include "iptrace/pkt.h"
#include "iptrace/sink.h"

/*
 * The entries (documented in iptrace(8), JOURNAL FIELDS):
 *   packet  MESSAGE_ID=1226dd637928408c9022206e28a530ee: MESSAGE (header line, then a
 *           line per step), PACKET_ID, FAMILY, PROTO, SRC, DST, SPORT, DPORT, LEN, IPID,
 *           PACKET_TIME, STEPS, STEPS_DROPPED, VERDICT (the last step's, when known);
 *           per step N (1-based): STEP_N_BACKEND, STEP_N_TABLE, STEP_N_CHAIN, STEP_N_KIND,
 *           STEP_N_RULENUM or STEP_N_HANDLE, STEP_N_RULE, STEP_N_VERDICT, STEP_N_IN,
 *           STEP_N_OUT, STEP_N_MARK, and STEP_N_SRC/STEP_N_DST ("addr:port") where NAT
 *           changed them, STEP_N_NODE when the packet crossed several nodes (--merge);
 *           and NODE, TABLE, CHAIN, RULE once per distinct value, so that
 *           `journalctl TABLE=nat` finds every packet that crossed nat (the journal keeps
 *           no order among repeated fields: the STEP_N_ ones carry it).
 *   record  MESSAGE_ID=2811253756d941ffad83b44702ae59fe (--no-group): MESSAGE, NODE, and
 *           the step's fields without the STEP_N_ prefix.
 *   summary MESSAGE_ID=3d54f8593de041958ecc77f60ab35d89: MESSAGE, PACKETS, RECORDS, LOST,
 *           DROPPED, EVICTED, OVERRUNS (when non-zero), MARKER, UNMARKED (with --limit),
 *           NODE.
 * All carry SYSLOG_IDENTIFIER=iptrace and PRIORITY=6.
 * journald drops a whole entry of more than 1024 fields (ENTRY_FIELD_COUNT_MAX), and a
 * packet may have 256 steps of up to 15 fields: the STEP_N_ fields (and TABLE, CHAIN,
 * RULE) stop before a step that could pass that; MESSAGE always has every step's line.
 */
#define JOURNAL_FIELDS_MAX	1024
#define STEP_FIELDS_MAX		15	/* put_step()'s 12 and put_distinct()'s 3 */
#define MSGID_PACKET	"1226dd637928408c9022206e28a530ee"
#define MSGID_RECORD	"2811253756d941ffad83b44702ae59fe"
#define MSGID_SUMMARY	"3d54f8593de041958ecc77f60ab35d89"
#define JOURNAL_SOCKET	"/run/systemd/journal/socket"

struct jsink {
	int	fd;
	char	*buf;		/* the entry being built */
	size_t	len, cap;
	size_t	nfields;	/* fields in it so far */
	bool	full;		/* no room for more step fields: field() skips them */
	bool	oom;
	bool	said;		/* a failed send was said */
	char	*msg;		/* MESSAGE being built */
	size_t	mlen, mcap;
};

static void grow(char **buf, size_t *cap, size_t need, bool *oom)
{
	char *nb;
	size_t nc = *cap ? *cap : 4096;

	while (nc < need)
		nc *= 2;
	if (nc == *cap)
		return;
	nb = realloc(*buf, nc);
	if (!nb) {
		*oom = true;
		return;
	}
	*buf = nb;
	*cap = nc;
}

static void put_bytes(struct jsink *j, const void *p, size_t n)
{
	grow(&j->buf, &j->cap, j->len + n, &j->oom);
	if (j->oom)
		return;
	memcpy(j->buf + j->len, p, n);
	j->len += n;
}

/*
 * KEY=value\n, or for a value with a newline the binary form: KEY\n, its length as a
 * little-endian 64-bit number, the bytes, \n.
 */
static void field(struct jsink *j, const char *key, const char *val)
{
	size_t vl = strlen(val);

	if (j->full)
		return;
	j->nfields++;
	put_bytes(j, key, strlen(key));
	if (memchr(val, '\n', vl)) {
		uint8_t le[8];

		for (int i = 0; i < 8; i++)
			le[i] = (uint8_t)((uint64_t)vl >> (8 * i));
		put_bytes(j, "\n", 1);
		put_bytes(j, le, sizeof(le));
	} else {
		put_bytes(j, "=", 1);
	}
	put_bytes(j, val, vl);
	put_bytes(j, "\n", 1);
}

__attribute__((format(printf, 3, 4)))
static void fieldf(struct jsink *j, const char *key, const char *fmt, ...)
{
	char val[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	field(j, key, val);
}

__attribute__((format(printf, 2, 3)))
static void msgf(struct jsink *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	grow(&j->msg, &j->mcap, j->mlen + (size_t)n + 1, &j->oom);
	if (j->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(j->msg + j->mlen, (size_t)n + 1, fmt, ap);
	va_end(ap);
	j->mlen += (size_t)n;
}

/*
 * A name into MESSAGE, escaped as text is (sink_text_escape()): MESSAGE is for people and
 * their terminals. The per-field values keep the exact bytes (the native protocol is
 * binary-safe).
 */
static void msg_name(struct jsink *j, const char *s)
{
	while (*s) {
		grow(&j->msg, &j->mcap, j->mlen + SINK_TEXT_ESC_MAX + 1, &j->oom);
		if (j->oom)
			return;
		j->mlen += sink_text_escape(j->msg + j->mlen, j->mcap - j->mlen - 1, &s);
		j->msg[j->mlen] = '\0';
	}
}

static void endpoint(const struct pkt_hdr *h, bool dst, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	sink_fmt_addr(h, dst, a, sizeof(a));
	if (!h->has_ports)
		snprintf(buf, size, "%s", a);
	else
		snprintf(buf, size, h->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
			 dst ? h->dport : h->sport);
}

static const char *proto_str(uint8_t proto, char *buf, size_t size)
{
	const char *n = pkt_proto_name(proto);

	if (n)
		return n;
	snprintf(buf, size, "%u", proto);
	return buf;
}

/*
 * Entries too big for a datagram (the socket's send buffer, 208 KiB by default) go in a
 * sealed memfd, as sd_journal_sendv() does.
 */
static int send_memfd(int sock, const char *buf, size_t len)
{
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr mh = { .msg_control = c.b, .msg_controllen = sizeof(c.b) };
	struct cmsghdr *cm;
	int fd, ret = 0;

	memset(&c, 0, sizeof(c));
	fd = memfd_create("iptrace-journal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, len) != (ssize_t)len ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		ret = -EIO;
		goto out;
	}
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
		ret = -errno;
out:
	close(fd);
	return ret;
}

/* Send the entry built so far (with MESSAGE last) and start a new one. */
static int flush_entry(struct jsink *j)
{
	int ret = 0;

	j->full = false;
	field(j, "MESSAGE", j->msg ? j->msg : "");
	if (j->oom) {
		ret = -ENOMEM;
	} else if (send(j->fd, j->buf, j->len, MSG_NOSIGNAL) < 0) {
		ret = -errno;
		if (ret == -EMSGSIZE || ret == -ENOBUFS)
			ret = send_memfd(j->fd, j->buf, j->len);
	}
	j->len = 0;
	j->nfields = 0;
	j->mlen = 0;
	if (j->msg)
		j->msg[0] = '\0';
	j->oom = false;
	/* Every failed write is said, once: the rest would say the same. */
	if (ret < 0 && !j->said) {
		diag_error("cannot send to the journal: %s", strerror(-ret));
		j->said = true;
	}
	return ret;
}

static void common(struct jsink *j, const char *msgid)
{
	field(j, "MESSAGE_ID", msgid);
	field(j, "SYSLOG_IDENTIFIER", "iptrace");
	field(j, "PRIORITY", "6");
}

static void kind_text(const struct trace_record *r, char *buf, size_t size)
{
	if (r->backend == TRACE_BACKEND_LEGACY)
		snprintf(buf, size, "%s %" PRIu32, trace_kind_name(r->kind), r->rulenum);
	else if (r->handle)
		snprintf(buf, size, "%s #%" PRIu64, trace_kind_name(r->kind), r->handle);
	else
		snprintf(buf, size, "%s", trace_kind_name(r->kind));
}

/*
 * One step's fields under @prefix ("STEP_3_" or "" for a record) and its MESSAGE line.
 * @prev: the step before, to show NAT; NULL for the first. @node: say the step's node
 * (the packet crossed several).
 */
static void put_step(struct jsink *j, const char *prefix, const struct trace_record *r,
		     const struct trace_record *prev, bool node)
{
	char key[64], kind[48];

#define KEY(name) (snprintf(key, sizeof(key), "%s" name, prefix), key)
	if (node && r->node)
		field(j, KEY("NODE"), r->node);
	field(j, KEY("BACKEND"), trace_backend_name(r->backend));
	field(j, KEY("TABLE"), r->table);
	field(j, KEY("CHAIN"), r->chain);
	field(j, KEY("KIND"), trace_kind_name(r->kind));
	if (r->backend == TRACE_BACKEND_LEGACY)
		fieldf(j, KEY("RULENUM"), "%" PRIu32, r->rulenum);
	else if (r->handle)
		fieldf(j, KEY("HANDLE"), "%" PRIu64, r->handle);
	if (r->rule)
		field(j, KEY("RULE"), r->rule);
	if (r->verdict)
		field(j, KEY("VERDICT"), r->verdict);
	if (r->in[0])
		field(j, KEY("IN"), r->in);
	if (r->out[0])
		field(j, KEY("OUT"), r->out);
	if (r->mark)
		fieldf(j, KEY("MARK"), "0x%" PRIx32, r->mark);
	kind_text(r, kind, sizeof(kind));
	msgf(j, "  ");
	if (node && r->node) {
		msg_name(j, r->node);
		msgf(j, ": ");
	}
	msg_name(j, r->table);
	msgf(j, " ");
	msg_name(j, r->chain);
	msgf(j, " %s", kind);
	if (r->verdict) {
		msgf(j, " ");
		msg_name(j, r->verdict);
		msgf(j, "%s", r->verdict_continues ? " (continue)" : "");
	}
	if (r->in[0]) {
		msgf(j, " in ");
		msg_name(j, r->in);
	}
	if (r->out[0]) {
		msgf(j, " out ");
		msg_name(j, r->out);
	}
	if (r->rule) {
		msgf(j, "  ");
		msg_name(j, r->rule);
	}
	if (prev && prev->pkt.family == r->pkt.family && r->pkt.family) {
		const struct pkt_hdr *a = &prev->pkt, *b = &r->pkt;
		char from[64], to[64];

		if (memcmp(&a->saddr, &b->saddr, sizeof(b->saddr)) || a->sport != b->sport) {
			endpoint(a, false, from, sizeof(from));
			endpoint(b, false, to, sizeof(to));
			field(j, KEY("SRC"), to);
			msgf(j, "  (src %s \u2192 %s)", from, to);
		}
		if (memcmp(&a->daddr, &b->daddr, sizeof(b->daddr)) || a->dport != b->dport) {
			endpoint(a, true, from, sizeof(from));
			endpoint(b, true, to, sizeof(to));
			field(j, KEY("DST"), to);
			msgf(j, "  (dst %s \u2192 %s)", from, to);
		}
	}
#undef KEY
}

/* The packet's own fields (as its first step saw it) and the MESSAGE header line. */
static void put_header(struct jsink *j, const struct pkt_hdr *h, uint64_t ts_ns)
{
	char a[INET6_ADDRSTRLEN], src[64], dst[64], pb[8], ts[40];
	const char *proto = proto_str(h->proto, pb, sizeof(pb));

	field(j, "FAMILY", h->family == AF_INET6 ? "ipv6" : h->family == AF_INET ? "ipv4" :
	      "unknown");
	field(j, "PROTO", proto);
	if (h->family == AF_INET || h->family == AF_INET6) {
		field(j, "SRC", sink_fmt_addr(h, false, a, sizeof(a)));
		field(j, "DST", sink_fmt_addr(h, true, a, sizeof(a)));
		if (h->has_ports) {
			fieldf(j, "SPORT", "%u", h->sport);
			fieldf(j, "DPORT", "%u", h->dport);
		}
	}
	fieldf(j, "LEN", "%u", h->len);
	if (h->family == AF_INET)
		fieldf(j, "IPID", "%u", h->ipid);
	if (ts_ns)
		field(j, "PACKET_TIME", sink_fmt_time(ts_ns, ts, sizeof(ts)));
	endpoint(h, false, src, sizeof(src));
	endpoint(h, true, dst, sizeof(dst));
	msgf(j, "%s %s \u2192 %s", proto, src, dst);
	if (h->family == AF_INET)
		msgf(j, " id %u", h->ipid);
	msgf(j, " len %u", h->len);
}

/* NODE, TABLE, CHAIN and RULE of step @i, each unless an earlier step had the same value. */
static void put_distinct(struct jsink *j, const struct packet *p, size_t i)
{
	const struct trace_record *r = &p->steps[i];
	bool table = true, chain = true, rule = r->rule != NULL, node = r->node != NULL;

	for (size_t k = 0; k < i; k++) {
		const struct trace_record *e = &p->steps[k];

		table = table && strcmp(e->table, r->table) != 0;
		chain = chain && strcmp(e->chain, r->chain) != 0;
		rule = rule && !(e->rule && strcmp(e->rule, r->rule) == 0);
		node = node && !(e->node && strcmp(e->node, r->node) == 0);
	}
	if (node)
		field(j, "NODE", r->node);
	if (table)
		field(j, "TABLE", r->table);
	if (chain)
		field(j, "CHAIN", r->chain);
	if (rule)
		field(j, "RULE", r->rule);
}

static int journal_begin(struct sink *s)
{
	const char *path = getenv("IPTRACE_JOURNAL_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct jsink *j;

	if (!path || !*path)
		path = JOURNAL_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		diag_error("journal socket path '%s' is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (j->fd < 0 || connect(j->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int ret = -errno;

		diag_error("cannot connect to the journal at '%s': %s%s", path, strerror(-ret),
			   ret == -ENOENT ? " (is systemd-journald running?)" : "");
		if (j->fd >= 0)
			close(j->fd);
		free(j);
		return ret;
	}
	s->priv = j;
	return 0;
}

static int journal_packet(struct sink *s, const struct packet *p)
{
	struct jsink *j = s->priv;
	const struct trace_record *last = p->nsteps ? &p->steps[p->nsteps - 1] : NULL;
	bool multi;

	if (!j || !p->nsteps)
		return j ? 0 : -1;
	multi = sink_multi_node(p);
	common(j, MSGID_PACKET);
	fieldf(j, "PACKET_ID", "%" PRIu64, p->id);
	msgf(j, "packet %" PRIu64 " ", p->id);
	put_header(j, &packet_first(p)->pkt, packet_first(p)->ts_ns);
	if (p->steps[0].node && !multi) {
		msgf(j, " node ");
		msg_name(j, p->steps[0].node);
	}
	fieldf(j, "STEPS", "%zu", p->nsteps);
	if (p->steps_dropped)
		fieldf(j, "STEPS_DROPPED", "%" PRIu32, p->steps_dropped);
	if (last->verdict)
		field(j, "VERDICT", last->verdict);
	for (size_t i = 0; i < p->nsteps; i++) {
		char prefix[32];

		snprintf(prefix, sizeof(prefix), "STEP_%zu_", i + 1);
		/* From the step that might not fit on, MESSAGE lines only (journald's limit). */
		if (j->nfields + STEP_FIELDS_MAX + 1 > JOURNAL_FIELDS_MAX)
			j->full = true;
		msgf(j, "\n");
		put_step(j, prefix, &p->steps[i], i ? &p->steps[i - 1] : NULL, multi);
		put_distinct(j, p, i);
	}
	if (p->steps_dropped)
		msgf(j, "\n  (%" PRIu32 " more steps not kept)", p->steps_dropped);
	return flush_entry(j) < 0 ? -1 : 0;
}

static int journal_record(struct sink *s, const struct trace_record *r)
{
	struct jsink *j = s->priv;

	if (!j)
		return -1;
	common(j, MSGID_RECORD);
	if (r->node)
		field(j, "NODE", r->node);
	put_header(j, &r->pkt, r->ts_ns);
	msgf(j, ":");
	put_step(j, "", r, NULL, false);
	return flush_entry(j) < 0 ? -1 : 0;
}

static int journal_end(struct sink *s, const struct summary *sum)
{
	struct jsink *j = s->priv;
	int ret;

	if (!j)
		return -1;	/* begin() failed and said why */
	common(j, MSGID_SUMMARY);
	fieldf(j, "PACKETS", "%" PRIu64, sum->packets);
	fieldf(j, "RECORDS", "%" PRIu64, sum->records);
	fieldf(j, "LOST", "%" PRIu64, sum->lost);
	fieldf(j, "DROPPED", "%" PRIu64, sum->dropped);
	fieldf(j, "EVICTED", "%" PRIu64, sum->evicted);
	/* As in the JSON summary: only when there were, only with --limit. */
	if (sum->overruns)
		fieldf(j, "OVERRUNS", "%" PRIu64, sum->overruns);
	if (sum->marker)
		field(j, "MARKER", sum->marker);
	if (sum->limited)
		fieldf(j, "UNMARKED", "%" PRIu64, sum->unmarked);
	if (sum->node)
		field(j, "NODE", sum->node);
	msgf(j, "capture ended: %" PRIu64 " packet%s, %" PRIu64 " record%s, %" PRIu64 " lost",
	     sum->packets, sum->packets == 1 ? "" : "s", sum->records,
	     sum->records == 1 ? "" : "s", sum->lost);
	if (sum->overruns)
		msgf(j, ", %" PRIu64 " nft socket overrun%s (records lost, number unknown)",
		     sum->overruns, sum->overruns == 1 ? "" : "s");
	ret = flush_entry(j);
	close(j->fd);
	free(j->buf);
	free(j->msg);
	free(j);
	s->priv = NULL;
	return ret < 0 ? -1 : 0;
}

const struct sink_ops sink_journal_ops = {
	.name = "journal",
	.begin = journal_begin,
	.packet = journal_packet,
	.record = journal_record,
	.end = journal_end,
};
