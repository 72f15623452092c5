/* SPDX-License-Identifier: GPL-2.0-or-later */
/* logline.c: the kernel's syslog TRACE line — parse it (--read) and print it (--format log) */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter.h>

#include "iptrace/hex.h"
#include "iptrace/logline.h"
#include "iptrace/pkt.h"
#include "iptrace/sink.h"

/*
 * Printing follows net/netfilter/nf_log_syslog.c (nf_log_ip_packet / nf_log_ip6_packet)
 * with the loginfo ip_tables.c and ip6_tables.c pass for TRACE: logflags
 * NF_LOG_DEFAULT_MASK = TCPSEQ | TCPOPT | IPOPT | UID, no MACDECODE. Every field ends with a
 * space, the kernel's own quirks included ("TRUNCATED" and "OPT (TRUNCATED)" without one).
 */

/*
 * The kernel's nf_log buffer is 1024 bytes; the names in it may grow fourfold when escaped
 * (sink_text_escape(): four interface names and two table/chain names, 488 bytes more).
 */
#define LINE_MAX_LEN	2048

struct lbuf {
	char	b[LINE_MAX_LEN];
	size_t	n;
};

__attribute__((format(printf, 2, 3)))
static void add(struct lbuf *m, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (m->n >= sizeof(m->b) - 1)
		return;
	va_start(ap, fmt);
	r = vsnprintf(m->b + m->n, sizeof(m->b) - m->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		m->n += (size_t)r < sizeof(m->b) - m->n ? (size_t)r : sizeof(m->b) - m->n - 1;
}

/*
 * The packet as the dumper sees it. @avail bytes are present; @skblen is what the kernel's
 * skb->len would have been (the IP length), used only in "INCOMPLETE [n bytes]". @lossy marks
 * a header rebuilt from text fields: what struct pkt_hdr can't hold (the ICMP error's inner
 * packet) is left out instead of printed as missing.
 */
struct view {
	const uint8_t	*p;
	size_t		avail;
	size_t		skblen;
	bool		lossy;
};

static const uint8_t *hdr_ptr(const struct view *v, size_t off, size_t len)
{
	return off <= v->avail && len <= v->avail - off ? v->p + off : NULL;
}

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static unsigned rest(const struct view *v, size_t off)
{
	return (unsigned)(v->skblen - off);	/* unsigned wrap as the kernel's u32 math */
}

/* %pI6: eight groups of four hex digits, never compressed. */
static void add_in6(struct lbuf *m, const uint8_t *a)
{
	for (int i = 0; i < 16; i += 2)
		add(m, i ? ":%02x%02x" : "%02x%02x", a[i], a[i + 1]);
}

/* nf_log_dump_tcp_header: 1 when the line ends here (no MARK after it). */
static int dump_tcp(struct lbuf *m, const struct view *v, bool fragment, size_t off)
{
	const uint8_t *th, *op;
	size_t optsize;

	add(m, "PROTO=TCP ");
	if (fragment)
		return 0;
	th = hdr_ptr(v, off, 20);
	if (!th) {
		add(m, "INCOMPLETE [%u bytes] ", rest(v, off));
		return 1;
	}
	add(m, "SPT=%u DPT=%u ", be16(th), be16(th + 2));
	add(m, "SEQ=%u ACK=%u ", be32(th + 4), be32(th + 8));
	add(m, "WINDOW=%u ", be16(th + 14));
	/* TCP_RESERVED_BITS is 0x0E000000 since AccECN took the lowest bit for AE. */
	add(m, "RES=0x%02x ", (unsigned)(th[12] & 0x0e) << 2);
	if (th[12] & 0x01)
		add(m, "AE ");
	if (th[13] & 0x80)
		add(m, "CWR ");
	if (th[13] & 0x40)
		add(m, "ECE ");
	if (th[13] & 0x20)
		add(m, "URG ");
	if (th[13] & 0x10)
		add(m, "ACK ");
	if (th[13] & 0x08)
		add(m, "PSH ");
	if (th[13] & 0x04)
		add(m, "RST ");
	if (th[13] & 0x02)
		add(m, "SYN ");
	if (th[13] & 0x01)
		add(m, "FIN ");
	add(m, "URGP=%u ", be16(th + 18));
	if ((size_t)(th[12] >> 4) * 4 > 20) {
		optsize = (size_t)(th[12] >> 4) * 4 - 20;
		op = hdr_ptr(v, off + 20, optsize);
		if (!op) {
			add(m, "OPT (TRUNCATED)");
			return 1;
		}
		add(m, "OPT (");
		for (size_t i = 0; i < optsize; i++)
			add(m, "%02X", op[i]);
		add(m, ") ");
	}
	return 0;
}

/* nf_log_dump_udp_header */
static int dump_udp(struct lbuf *m, const struct view *v, uint8_t proto, bool fragment,
		    size_t off)
{
	const uint8_t *uh;

	add(m, proto == IPPROTO_UDP ? "PROTO=UDP " : "PROTO=UDPLITE ");
	if (fragment)
		return 0;
	uh = hdr_ptr(v, off, 8);
	if (!uh) {
		add(m, "INCOMPLETE [%u bytes] ", rest(v, off));
		return 1;
	}
	add(m, "SPT=%u DPT=%u LEN=%u ", be16(uh), be16(uh + 2), be16(uh + 4));
	return 0;
}

static void dump_icmp4(struct lbuf *m, const struct view *v, size_t iphoff, size_t l4off,
		       bool fragment, const struct trace_record *rec);

/* The end of the outer packet's fields: nf_log_dump_sk_uid_gid(), then the mark. */
static void dump_owner_mark(struct lbuf *m, const struct trace_record *rec)
{
	if (rec->has_uid)
		add(m, "UID=%u GID=%u ", rec->uid, rec->gid);
	if (rec->mark)
		add(m, "MARK=0x%x ", rec->mark);
}

static void dump_ipv4(struct lbuf *m, const struct view *v, size_t iphoff,
		      const struct trace_record *rec)
{
	const uint8_t *ih = hdr_ptr(v, iphoff, 20), *op;
	unsigned frag, ihl;
	size_t l4off;
	bool fragment;

	if (!ih) {
		add(m, "TRUNCATED");
		return;
	}
	add(m, "SRC=%u.%u.%u.%u DST=%u.%u.%u.%u ", ih[12], ih[13], ih[14], ih[15],
	    ih[16], ih[17], ih[18], ih[19]);
	add(m, "LEN=%u TOS=0x%02X PREC=0x%02X TTL=%u ID=%u ", be16(ih + 2), ih[1] & 0x1e,
	    ih[1] & 0xe0, ih[8], be16(ih + 4));
	frag = be16(ih + 6);
	if (frag & 0x8000)
		add(m, "CE ");
	if (frag & 0x4000)
		add(m, "DF ");
	if (frag & 0x2000)
		add(m, "MF ");
	if (frag & 0x1fff)
		add(m, "FRAG:%u ", frag & 0x1fff);
	fragment = frag & 0x1fff;
	/* The kernel trusts ihl here, as it was validated on the way in. */
	ihl = (ih[0] & 0x0f) * 4u;
	if (ihl > 20) {
		op = hdr_ptr(v, iphoff + 20, ihl - 20);
		if (!op) {
			add(m, "TRUNCATED");
			return;
		}
		add(m, "OPT (");
		for (unsigned i = 0; i < ihl - 20; i++)
			add(m, "%02X", op[i]);
		add(m, ") ");
	}
	l4off = iphoff + ihl;
	switch (ih[9]) {
	case IPPROTO_TCP:
		if (dump_tcp(m, v, fragment, l4off))
			return;
		break;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		if (dump_udp(m, v, ih[9], fragment, l4off))
			return;
		break;
	case IPPROTO_ICMP:
		dump_icmp4(m, v, iphoff, l4off, fragment, rec);
		break;
	case IPPROTO_AH: {
		const uint8_t *ah;

		if (fragment)
			break;
		add(m, "PROTO=AH ");
		ah = hdr_ptr(v, l4off, 12);
		if (!ah) {
			if (!v->lossy)
				add(m, "INCOMPLETE [%u bytes] ", rest(v, l4off));
			break;
		}
		add(m, "SPI=0x%x ", be32(ah + 4));
		break;
	}
	case IPPROTO_ESP: {
		const uint8_t *eh;

		add(m, "PROTO=ESP ");
		if (fragment)
			break;
		eh = hdr_ptr(v, l4off, 8);
		if (!eh) {
			if (!v->lossy)
				add(m, "INCOMPLETE [%u bytes] ", rest(v, l4off));
			break;
		}
		add(m, "SPI=0x%x ", be32(eh));
		break;
	}
	default:
		add(m, "PROTO=%u ", ih[9]);
	}
	if (!iphoff)
		dump_owner_mark(m, rec);
}

static void dump_icmp4(struct lbuf *m, const struct view *v, size_t iphoff, size_t l4off,
		       bool fragment, const struct trace_record *rec)
{
	/* required_len[] of dump_ipv4_packet, by ICMP type */
	static const uint8_t required[19] = {
		[0] = 4, [3] = 28, [4] = 28, [5] = 28, [8] = 4, [11] = 28, [12] = 28,
		[13] = 20, [14] = 20, [17] = 12, [18] = 12,
	};
	const uint8_t *ich;
	unsigned type;

	add(m, "PROTO=ICMP ");
	if (fragment)
		return;
	ich = hdr_ptr(v, l4off, 8);
	if (!ich) {
		add(m, "INCOMPLETE [%u bytes] ", rest(v, l4off));
		return;
	}
	type = ich[0];
	add(m, "TYPE=%u CODE=%u ", type, ich[1]);
	if (type < sizeof(required) && required[type] && v->skblen - l4off < required[type]) {
		add(m, "INCOMPLETE [%u bytes] ", rest(v, l4off));
		return;
	}
	switch (type) {
	case 0:		/* echo reply */
	case 8:		/* echo */
		add(m, "ID=%u SEQ=%u ", be16(ich + 4), be16(ich + 6));
		break;
	case 12:	/* parameter problem */
		add(m, "PARAMETER=%u ", ich[4]);
		break;
	case 5:		/* redirect */
		add(m, "GATEWAY=%u.%u.%u.%u ", ich[4], ich[5], ich[6], ich[7]);
		/* fallthrough */
	case 3:		/* destination unreachable */
	case 4:		/* source quench */
	case 11:	/* time exceeded */
		if (!iphoff && !v->lossy) {	/* only one level of recursion */
			add(m, "[");
			dump_ipv4(m, v, l4off + 8, rec);
			add(m, "] ");
		}
		if (type == 3 && ich[1] == 4)	/* fragmentation needed */
			add(m, "MTU=%u ", be16(ich + 6));
		break;
	}
}

static bool ip6_ext_hdr(uint8_t nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_ESP || nexthdr == IPPROTO_AH ||
	       nexthdr == IPPROTO_NONE || nexthdr == IPPROTO_DSTOPTS;
}

static void dump_ipv6(struct lbuf *m, const struct view *v, size_t ip6hoff, bool recurse,
		      const struct trace_record *rec)
{
	const uint8_t *ih = hdr_ptr(v, ip6hoff, 40), *hp, *ic;
	size_t ptr, hdrlen = 0;
	bool fragment = false;
	uint8_t cur;
	uint32_t w;

	if (!ih) {
		add(m, "TRUNCATED");
		return;
	}
	add(m, "SRC=");
	add_in6(m, ih + 8);
	add(m, " DST=");
	add_in6(m, ih + 24);
	w = be32(ih);
	add(m, " LEN=%u TC=%u HOPLIMIT=%u FLOWLBL=%u ", be16(ih + 4) + 40u,
	    (w & 0x0ff00000) >> 20, ih[7], w & 0x000fffff);
	ptr = ip6hoff + 40;
	cur = ih[6];
	while (cur != IPPROTO_NONE && ip6_ext_hdr(cur)) {
		hp = hdr_ptr(v, ptr, 2);
		if (!hp) {
			add(m, "TRUNCATED");
			return;
		}
		add(m, "OPT ( ");
		switch (cur) {
		case IPPROTO_FRAGMENT: {
			const uint8_t *fh;

			add(m, "FRAG:");
			fh = hdr_ptr(v, ptr, 8);
			if (!fh) {
				add(m, "TRUNCATED ");
				return;
			}
			add(m, "%u ", be16(fh + 2) & 0xfff8);
			if (fh[3] & 0x01)
				add(m, "INCOMPLETE ");
			add(m, "ID:%08x ", be32(fh + 4));
			if (be16(fh + 2) & 0xfff8)
				fragment = true;
			hdrlen = 8;
			break;
		}
		case IPPROTO_DSTOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_HOPOPTS:
			if (fragment) {
				add(m, ")");
				return;
			}
			hdrlen = ((size_t)hp[1] + 1) * 8;
			break;
		case IPPROTO_AH: {
			const uint8_t *ah;

			add(m, "AH ");
			if (fragment) {
				add(m, ")");
				return;
			}
			ah = hdr_ptr(v, ptr, 12);
			if (!ah) {
				add(m, "INCOMPLETE [%u bytes] )", rest(v, ptr));
				return;
			}
			add(m, "SPI=0x%x ", be32(ah + 4));
			hdrlen = ((size_t)hp[1] + 2) * 4;
			break;
		}
		case IPPROTO_ESP: {
			const uint8_t *eh;

			add(m, "ESP ");
			if (fragment) {
				add(m, ")");
				return;
			}
			eh = hdr_ptr(v, ptr, 8);
			if (!eh) {
				add(m, "INCOMPLETE [%u bytes] )", rest(v, ptr));
				return;
			}
			add(m, "SPI=0x%x )", be32(eh));
			return;
		}
		default:
			add(m, "Unknown Ext Hdr %u", cur);
			return;
		}
		add(m, ") ");
		cur = hp[0];
		ptr += hdrlen;
	}
	switch (cur) {
	case IPPROTO_TCP:
		if (dump_tcp(m, v, fragment, ptr))
			return;
		break;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		if (dump_udp(m, v, cur, fragment, ptr))
			return;
		break;
	case IPPROTO_ICMPV6:
		add(m, "PROTO=ICMPv6 ");
		if (fragment)
			break;
		ic = hdr_ptr(v, ptr, 8);
		if (!ic) {
			add(m, "INCOMPLETE [%u bytes] ", rest(v, ptr));
			return;
		}
		add(m, "TYPE=%u CODE=%u ", ic[0], ic[1]);
		switch (ic[0]) {
		case 128:	/* echo request */
		case 129:	/* echo reply */
			add(m, "ID=%u SEQ=%u ", be16(ic + 4), be16(ic + 6));
			break;
		case 130:	/* multicast listener query, report, done */
		case 131:
		case 132:
			break;
		case 4:		/* parameter problem */
			add(m, "POINTER=%08x ", be32(ic + 4));
			/* fallthrough */
		case 1:		/* destination unreachable */
		case 2:		/* packet too big */
		case 3:		/* time exceeded */
			if (recurse && !v->lossy) {
				add(m, "[");
				dump_ipv6(m, v, ptr + 8, false, rec);
				add(m, "] ");
			}
			if (ic[0] == 2)
				add(m, "MTU=%u ", be32(ic + 4));
			break;
		}
		break;
	default:
		add(m, "PROTO=%u ", cur);
	}
	if (recurse)
		dump_owner_mark(m, rec);
}

int logline_format(FILE *f, const struct trace_record *rec)
{
	struct lbuf m = { .n = 0 };
	uint8_t synth[PKT_REBUILD_MAX];
	struct view v = { 0 };
	int family;
	/* The kernel prints names raw; here they are escaped as dmesg shows its lines. */
	char t[SINK_TEXT_NAME_MAX(TRACE_NFT_NAME_MAX)], c[SINK_TEXT_NAME_MAX(TRACE_NFT_NAME_MAX)];
	char in[SINK_TEXT_NAME_MAX(IF_NAMESIZE)], out[SINK_TEXT_NAME_MAX(IF_NAMESIZE)];

	add(&m, "TRACE: %s:%s:%s:%lu ", sink_text_name(rec->table, t, sizeof(t)),
	    sink_text_name(rec->chain, c, sizeof(c)), trace_kind_name(rec->kind),
	    rec->backend == TRACE_BACKEND_NFT ? (unsigned long)rec->handle :
	    (unsigned long)rec->rulenum);
	add(&m, "IN=%s OUT=%s ", sink_text_name(rec->in, in, sizeof(in)),
	    sink_text_name(rec->out, out, sizeof(out)));
	if (rec->physin[0])
		add(&m, "PHYSIN=%s ", sink_text_name(rec->physin, in, sizeof(in)));
	if (rec->physout[0])
		add(&m, "PHYSOUT=%s ", sink_text_name(rec->physout, out, sizeof(out)));
	if (rec->in[0] || rec->ifindex_in) {
		add(&m, "MAC=");
		for (unsigned i = 0; i < rec->hw_len && i < TRACE_HW_MAX; i++)
			add(&m, i ? ":%02x" : "%02x", rec->hw[i]);
		add(&m, " ");
	}
	if (rec->raw_len) {
		v.p = rec->raw;
		v.avail = rec->raw_len;
		family = (rec->raw[0] >> 4) == 6 ? AF_INET6 : AF_INET;
		v.skblen = family == AF_INET6 ?
			(rec->raw_len >= 6 ? be16(rec->raw + 4) + 40u : 0) :
			(rec->raw_len >= 4 ? be16(rec->raw + 2) : 0);
		/* GSO packets may carry a zero length field: then the copy is all we know. */
		if (v.skblen < v.avail)
			v.skblen = v.avail;
	} else {
		v.p = synth;
		v.avail = pkt_rebuild(&rec->pkt, synth);
		v.skblen = rec->pkt.len > v.avail ? rec->pkt.len : v.avail;
		v.lossy = true;
		family = rec->pkt.family;
	}
	if (family == AF_INET6)
		dump_ipv6(&m, &v, 0, true, rec);
	else
		dump_ipv4(&m, &v, 0, rec);
	if (fwrite(m.b, 1, m.n, f) != m.n)
		return -EIO;
	return 0;
}

/* ---- parsing ---- */

static const char *const months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static bool digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int num(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* days_from_civil: days since 1970-01-01 of a proleptic Gregorian date, no libc tz state. */
static int64_t days_from_civil(int64_t y, unsigned mo, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= mo <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * Seconds since the epoch of a UTC date and time, or -1 when there is no such time (Feb 31,
 * 24:00, 99:99:99; a leap second :60 is one) or it can't be a kernel line's: before 1970,
 * or past what a uint64_t of nanoseconds holds (2554). Never wrapped into another date.
 */
static int64_t civil_sec(int64_t y, int mo, int d, int h, int mi, int s)
{
	static const uint8_t mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int64_t t;

	if (y < 1970 || y > 2554 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)) || h > 23 || mi > 59 || s > 60)
		return -1;
	t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
	return t;
}

/* @sec (+ @frac ns) as ns since the epoch; -ERANGE where that is before 1970 or past 2554. */
static int to_ns(int64_t sec, uint64_t frac, uint64_t *ns)
{
	if (sec < 0 || (uint64_t)sec >= UINT64_MAX / 1000000000ull)
		return -ERANGE;
	*ns = (uint64_t)sec * 1000000000ull + frac;
	return 0;
}

/* ".ddd" or ",ddd" (dmesg --time-format iso) at @s[*i]: the fraction in ns. */
static uint64_t fraction(const char *s, size_t len, size_t *i)
{
	uint64_t frac = 0, scale = 1000000000ull;

	if (*i >= len || (s[*i] != '.' && s[*i] != ','))
		return 0;
	for ((*i)++; *i < len && digits(s + *i, 1); (*i)++) {
		if (scale > 1) {
			scale /= 10;
			frac += (uint64_t)(s[*i] - '0') * scale;
		}
	}
	return frac;
}

/*
 * The time at the head of the line: "Mon DD HH:MM:SS[.frac]" (syslog, journalctl; the year
 * is the current one, or the last one when that would put the line more than a day in the
 * future or the day is not in it) or RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|+HHMM)"
 * (rsyslog, journalctl -o short-iso, dmesg --time-format iso). *@used gets the bytes it
 * spans, 0 when there is none: dmesg's "[seconds since boot]" has no wall clock to offer.
 * Returns 0, or -ERANGE for a time that can't be (civil_sec()).
 */
static int line_time(const char *s, size_t len, uint64_t *ts, size_t *used)
{
	*ts = 0;
	*used = 0;
	if (len >= 15 && s[3] == ' ' && s[6] == ' ' && s[9] == ':' && s[12] == ':' &&
	    (s[4] == ' ' || digits(s + 4, 1)) && digits(s + 5, 1) && digits(s + 7, 2) &&
	    digits(s + 10, 2) && digits(s + 13, 2)) {
		time_t now = time(NULL);
		struct tm tm;
		int mo = -1, day = s[4] == ' ' ? num(s + 5, 1) : num(s + 4, 2);
		int64_t t, y;
		size_t i = 15;
		uint64_t frac;

		for (int k = 0; k < 12; k++)
			if (memcmp(s, months[k], 3) == 0)
				mo = k + 1;
		if (mo < 0 || !gmtime_r(&now, &tm))
			return 0;	/* not a syslog time after all */
		frac = fraction(s, len, &i);
		y = tm.tm_year + 1900;
		t = civil_sec(y, mo, day, num(s + 7, 2), num(s + 10, 2), num(s + 13, 2));
		if (t < 0 || t > (int64_t)now + 86400)
			t = civil_sec(y - 1, mo, day, num(s + 7, 2), num(s + 10, 2), num(s + 13, 2));
		*used = i;
		return t < 0 ? -ERANGE : to_ns(t, frac, ts);
	}
	/* dmesg -T: "[Mon Mar 30 19:33:27 2026] ", local time taken as UTC (no offset given). */
	if (len >= 26 && s[0] == '[' && s[4] == ' ' && s[8] == ' ' && s[11] == ' ' &&
	    s[14] == ':' && s[17] == ':' && s[20] == ' ' && s[25] == ']' &&
	    (s[9] == ' ' || digits(s + 9, 1)) && digits(s + 10, 1) && digits(s + 12, 2) &&
	    digits(s + 15, 2) && digits(s + 18, 2) && digits(s + 21, 4)) {
		int mo = -1, day = s[9] == ' ' ? num(s + 10, 1) : num(s + 9, 2);
		int64_t t;

		for (int k = 0; k < 12; k++)
			if (memcmp(s + 5, months[k], 3) == 0)
				mo = k + 1;
		if (mo < 0)
			return 0;
		t = civil_sec(num(s + 21, 4), mo, day, num(s + 12, 2), num(s + 15, 2),
			      num(s + 18, 2));
		*used = 26;
		return t < 0 ? -ERANGE : to_ns(t, 0, ts);
	}
	if (len >= 20 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' &&
	    digits(s + 8, 2) && s[10] == 'T' && digits(s + 11, 2) && s[13] == ':' &&
	    digits(s + 14, 2) && s[16] == ':' && digits(s + 17, 2)) {
		size_t i = 19;
		uint64_t frac = fraction(s, len, &i);
		int oh = 0, om = 0;
		int64_t t;

		if (i + 6 <= len && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2) &&
		    s[i + 3] == ':' && digits(s + i + 4, 2)) {
			oh = num(s + i + 1, 2);
			om = num(s + i + 4, 2);
			*used = i + 6;
		} else if (i + 5 <= len && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 4)) {
			oh = num(s + i + 1, 2);
			om = num(s + i + 3, 2);
			*used = i + 5;
		} else if (i < len && s[i] == 'Z') {
			*used = i + 1;
		} else {
			return 0;	/* no zone: no time to go by */
		}
		t = civil_sec(num(s, 4), num(s + 5, 2), num(s + 8, 2), num(s + 11, 2),
			      num(s + 14, 2), num(s + 17, 2));
		if (t < 0 || oh > 23 || om > 59)
			return -ERANGE;
		t -= (s[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
		return to_ns(t, frac, ts);
	}
	return 0;
}

/*
 * The kernel's "[seconds.micros]" since boot in the prefix @s: dmesg's, /var/log/messages'
 * "kernel: [ 1234.567890] ", journalctl -o short-monotonic's. ns, or 0 when there is none.
 */
static uint64_t line_uptime(const char *s, size_t len)
{
	for (const char *b = memchr(s, '[', len); b; b = memchr(b + 1, '[', len - (size_t)(b + 1 - s))) {
		size_t i = (size_t)(b - s) + 1, d;
		uint64_t sec = 0, frac;

		while (i < len && s[i] == ' ')
			i++;
		for (d = i; i < len && digits(s + i, 1) && i - d < 12; i++)
			sec = sec * 10 + (uint64_t)(s[i] - '0');
		if (i == d || i >= len || s[i] != '.')
			continue;
		d = i + 1;
		frac = fraction(s, len, &i);
		if (i > d && i < len && s[i] == ']')
			return sec * 1000000000ull + frac;
		if (b + 1 >= s + len)
			break;
	}
	return 0;
}

/*
 * Is the text before "TRACE: " (@s, @len bytes, its time taken off) the kernel's? In a
 * syslog file or journalctl's output another program can log "TRACE: " too (logger): only
 * a line tagged "kernel:" counts there. Untagged lines (dmesg, /dev/kmsg, journalctl -o
 * cat, a time alone) have nothing but the kernel's "[seconds]" before the text; dmesg -x
 * puts its "kern  :warn  :" columns first.
 */
static bool kernel_line(const char *s, size_t len)
{
	const char *e = s + len, *o;

	while (e > s && e[-1] == ' ')
		e--;
	/* The kernel's own "[seconds]" (or dmesg -T's "[date]") right before the text. */
	if (e > s && e[-1] == ']' && (o = memrchr(s, '[', (size_t)(e - s)))) {
		e = o;
		while (e > s && e[-1] == ' ')
			e--;
	}
	while (s < e && *s == ' ')
		s++;
	if (s == e)
		return true;
	if (e - s >= 7 && memcmp(e - 7, "kernel:", 7) == 0 && (e - 7 == s || e[-8] == ' '))
		return true;
	if (e - s >= 5 && memcmp(s, "kern", 4) == 0 && s[4] == ' ') {
		for (s += 4; s < e && *s == ' '; s++)
			;
		return s < e && *s == ':';
	}
	return false;
}

/*
 * dmesg shows a byte the kernel escapes (a control byte, DEL, past ASCII) as "\xhh", and
 * so does --format log: such an escape in a line stands for that byte, taken back here, so
 * a name reads as the bytes it has (and a 15-byte interface name still fits IF_NAMESIZE).
 * Other "\x" text stays as it is. Returns the length written to @out (at most @len).
 */
static size_t unescape(const char *in, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (in[i] == '\\' && i + 3 < len && in[i + 1] == 'x' &&
		    (hi = hex_digit(in[i + 2])) >= 0 && (lo = hex_digit(in[i + 3])) >= 0) {
			unsigned c = (unsigned)(hi << 4 | lo);

			if ((c >= 0x01 && c < 0x20) || c >= 0x7f) {
				out[n++] = (char)c;
				i += 3;
				continue;
			}
		}
		out[n++] = in[i];
	}
	return n;
}

struct tok {
	const char	*s;
	size_t		n;
};

static bool tok_is(const struct tok *t, const char *word)
{
	size_t n = strlen(word);

	return t->n == n && memcmp(t->s, word, n) == 0;
}

/* "KEY=" at the head of @t: the value goes to @val. */
static bool tok_key(const struct tok *t, const char *key, struct tok *val)
{
	size_t n = strlen(key);

	if (t->n <= n || memcmp(t->s, key, n) != 0 || t->s[n] != '=')
		return false;
	val->s = t->s + n + 1;
	val->n = t->n - n - 1;
	return true;
}

/* An unsigned number in @base filling all of @v (hex may carry "0x"). */
static int tok_num(const struct tok *v, int base, uint64_t max, uint64_t *out)
{
	const char *p = v->s, *end = v->s + v->n;
	uint64_t x = 0;

	if (base == 16 && end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	if (p == end || end - p > 20)
		return -EINVAL;
	for (; p < end; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			return -EINVAL;
		x = x * (unsigned)base + d;
		if (x > max)
			return -EINVAL;
	}
	*out = x;
	return 0;
}

static int tok_name(const struct tok *v, char *dst)
{
	if (v->n >= IF_NAMESIZE)
		return -EINVAL;
	memcpy(dst, v->s, v->n);
	dst[v->n] = '\0';
	return 0;
}

static int tok_mac(const struct tok *v, struct trace_record *rec)
{
	size_t i = 0;

	rec->hw_len = 0;
	while (i < v->n) {
		uint64_t b;
		struct tok byte = { v->s + i, 2 };

		if (i + 2 > v->n || rec->hw_len >= TRACE_HW_MAX || tok_num(&byte, 16, 255, &b) < 0)
			return -EINVAL;
		rec->hw[rec->hw_len++] = (uint8_t)b;
		i += 2;
		if (i < v->n && v->s[i++] != ':')
			return -EINVAL;
	}
	return 0;
}

static int tok_addr(const struct tok *v, struct pkt_hdr *h, struct in6_addr *dst)
{
	char buf[INET6_ADDRSTRLEN];
	int family = memchr(v->s, ':', v->n) ? AF_INET6 : AF_INET;

	if (v->n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v->s, v->n);
	buf[v->n] = '\0';
	memset(dst, 0, sizeof(*dst));
	if (inet_pton(family, buf, dst) != 1)
		return -EINVAL;
	if (h->family && h->family != family)
		return -EINVAL;
	h->family = (uint8_t)family;
	return 0;
}

static int proto_of(const struct tok *v, uint8_t *proto)
{
	static const struct { const char *name; uint8_t proto; } names[] = {
		{ "TCP", IPPROTO_TCP }, { "UDP", IPPROTO_UDP }, { "UDPLITE", IPPROTO_UDPLITE },
		{ "ICMP", IPPROTO_ICMP }, { "ICMPv6", IPPROTO_ICMPV6 }, { "AH", IPPROTO_AH },
		{ "ESP", IPPROTO_ESP },
	};
	uint64_t x;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (tok_is(v, names[i].name)) {
			*proto = names[i].proto;
			return 0;
		}
	if (tok_num(v, 10, 255, &x) < 0)
		return -EINVAL;
	*proto = (uint8_t)x;
	return 0;
}

/* Which part of the line the next KEY=value belongs to: LEN, ID and SEQ appear twice. */
enum part { PART_IP, PART_L4 };

/* One KEY=value or flag word of the network or transport part; unknown words are skipped. */
static int field(const struct tok *t, enum part part, struct trace_record *rec)
{
	struct pkt_hdr *h = &rec->pkt;
	struct tok v;
	uint64_t x;
	static const struct { const char *name; uint8_t bit; } tcpf[] = {
		{ "CWR", 0x80 }, { "ECE", 0x40 }, { "URG", 0x20 }, { "ACK", 0x10 },
		{ "PSH", 0x08 }, { "RST", 0x04 }, { "SYN", 0x02 }, { "FIN", 0x01 },
	};

#define NUM(key, base, max, dst) \
	if (tok_key(t, key, &v)) { \
		if (tok_num(&v, base, max, &x) < 0) \
			return -EINVAL; \
		dst; \
		return 0; \
	}

	if (tok_key(t, "IN", &v))
		return tok_name(&v, rec->in);
	if (tok_key(t, "OUT", &v))
		return tok_name(&v, rec->out);
	if (tok_key(t, "PHYSIN", &v))
		return tok_name(&v, rec->physin);
	if (tok_key(t, "PHYSOUT", &v))
		return tok_name(&v, rec->physout);
	if (tok_key(t, "MAC", &v))
		return tok_mac(&v, rec);
	if (tok_key(t, "SRC", &v))
		return tok_addr(&v, h, &h->saddr);
	if (tok_key(t, "DST", &v))
		return tok_addr(&v, h, &h->daddr);
	NUM("MARK", 16, UINT32_MAX, rec->mark = (uint32_t)x)
	NUM("UID", 10, UINT32_MAX, (rec->uid = (uint32_t)x, rec->has_uid = true))
	NUM("GID", 10, UINT32_MAX, rec->gid = (uint32_t)x)
	if (tok_key(t, "PROTO", &v))
		return proto_of(&v, &h->proto);
	if (part == PART_IP) {
		NUM("LEN", 10, 65535, h->len = (uint16_t)x)
		NUM("TOS", 16, 255, h->tos |= (uint8_t)x)
		NUM("PREC", 16, 255, h->tos |= (uint8_t)x)
		NUM("TTL", 10, 255, h->ttl = (uint8_t)x)
		NUM("ID", 10, 65535, h->ipid = (uint16_t)x)
		NUM("TC", 10, 255, h->tos = (uint8_t)x)
		NUM("HOPLIMIT", 10, 255, h->ttl = (uint8_t)x)
		NUM("FLOWLBL", 10, 0xfffff, h->flowlabel = (uint32_t)x)
		if (tok_is(t, "CE"))
			h->frag |= 0x8000;
		else if (tok_is(t, "DF"))
			h->frag |= 0x4000;
		else if (tok_is(t, "MF"))
			h->frag |= 0x2000;
		else if (t->n > 5 && memcmp(t->s, "FRAG:", 5) == 0) {
			v.s = t->s + 5;
			v.n = t->n - 5;
			if (tok_num(&v, 10, 0xffff, &x) < 0)
				return -EINVAL;
			/* IPv4: the 13-bit offset; IPv6 (inside OPT): offset << 3 */
			h->frag |= (uint16_t)(h->family == AF_INET6 ? x & 0xfff8 : x & 0x1fff);
		} else if (t->n == 11 && memcmp(t->s, "ID:", 3) == 0) {
			v.s = t->s + 3;
			v.n = 8;
			if (tok_num(&v, 16, UINT32_MAX, &x) < 0)
				return -EINVAL;
			h->ipid = (uint16_t)x;	/* as pkt_decode keeps it */
		}
		return 0;
	}
	switch (h->proto) {
	case IPPROTO_TCP:
		NUM("SPT", 10, 65535, (h->sport = (uint16_t)x, h->has_ports = h->has_l4 = true))
		NUM("DPT", 10, 65535, h->dport = (uint16_t)x)
		NUM("SEQ", 10, UINT32_MAX, h->tcp_seq = (uint32_t)x)
		NUM("ACK", 10, UINT32_MAX, h->tcp_ack = (uint32_t)x)
		NUM("WINDOW", 10, 65535, h->tcp_window = (uint16_t)x)
		NUM("RES", 16, 255, h->tcp_res |= (uint8_t)((x >> 2) & 0x0e))
		NUM("URGP", 10, 65535, h->tcp_urg = (uint16_t)x)
		if (tok_is(t, "AE"))
			h->tcp_res |= 1;
		for (size_t i = 0; i < sizeof(tcpf) / sizeof(tcpf[0]); i++)
			if (tok_is(t, tcpf[i].name))
				h->tcp_flags |= tcpf[i].bit;
		break;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		NUM("SPT", 10, 65535, (h->sport = (uint16_t)x, h->has_ports = h->has_l4 = true))
		NUM("DPT", 10, 65535, h->dport = (uint16_t)x)
		NUM("LEN", 10, 65535, h->l4len = (uint16_t)x)
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		/* Bytes 4-7 of the ICMP header, whatever the type calls them (as pkt_decode). */
		NUM("TYPE", 10, 255, (h->icmp_type = (uint8_t)x, h->has_l4 = true))
		NUM("CODE", 10, 255, h->icmp_code = (uint8_t)x)
		NUM("ID", 10, 65535, h->icmp_ident = (uint16_t)x)
		NUM("SEQ", 10, 65535, h->icmp_seqno = (uint16_t)x)
		NUM("PARAMETER", 10, 255, h->icmp_ident = (uint16_t)(x << 8))
		NUM("POINTER", 16, UINT32_MAX,
		    (h->icmp_ident = (uint16_t)(x >> 16), h->icmp_seqno = (uint16_t)x))
		if (tok_key(t, "MTU", &v)) {
			if (tok_num(&v, 10, UINT32_MAX, &x) < 0)
				return -EINVAL;
			if (h->proto == IPPROTO_ICMPV6)
				h->icmp_ident = (uint16_t)(x >> 16);
			h->icmp_seqno = (uint16_t)x;
			return 0;
		}
		if (tok_key(t, "GATEWAY", &v)) {
			struct in6_addr a;
			struct pkt_hdr tmp = { .family = AF_INET };

			if (tok_addr(&v, &tmp, &a) < 0)
				return -EINVAL;
			h->icmp_ident = (uint16_t)(a.s6_addr[0] << 8 | a.s6_addr[1]);
			h->icmp_seqno = (uint16_t)(a.s6_addr[2] << 8 | a.s6_addr[3]);
			return 0;
		}
		break;
	}
#undef NUM
	return 0;
}

int logline_parse(const char *text, size_t len, struct names *nm, struct trace_record *rec)
{
	char line[LOGLINE_MAX];
	const char *p, *end;
	enum part part = PART_IP;
	bool seen_in = false, seen_out = false, after_frag = false;
	int depth = 0, n;
	uint64_t ts;
	size_t used;

	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (!memmem(text, len, "TRACE: ", 7))
		return -ENOMSG;
	if (len > LOGLINE_MAX)
		return -EINVAL;	/* longer than the kernel's lines can be */
	len = unescape(text, len, line);
	end = line + len;
	/* Escapes hold hex digits only: the same "TRACE: ", moved. */
	p = memmem(line, len, "TRACE: ", 7);
	if (!p)
		return -ENOMSG;
	n = line_time(line, (size_t)(p - line), &ts, &used);
	if (!kernel_line(line + used, (size_t)(p - line) - used))
		return -EPROTO;
	if (n < 0)
		return n;
	memset(rec, 0, sizeof(*rec));
	rec->verdict_chain = "";
	rec->backend = TRACE_BACKEND_LEGACY;
	n = trace_prefix_parse(p, (size_t)(end - p), nm, rec);
	if (n < 0)
		return n;
	rec->hook = (int8_t)trace_hook_of(rec->chain);
	rec->ts_ns = ts;
	rec->uptime_ns = line_uptime(line, (size_t)(p - line));
	p += n;

	while (p < end) {
		struct tok t = { p, 0 };
		int ret;

		while (p < end && *p != ' ')
			p++;
		t.n = (size_t)(p - t.s);
		while (p < end && *p == ' ')
			p++;
		if (t.n == 0)
			continue;
		/*
		 * Skip bracketed parts: "INCOMPLETE [n bytes]" and the ICMP error's inner
		 * packet "[SRC=... ]", whose fields must not overwrite the outer ones.
		 */
		if (depth || t.s[0] == '[') {
			if (t.s[0] == '[')
				depth++;
			if (t.s[t.n - 1] == ']' && depth)
				depth--;
			continue;
		}
		/*
		 * In the transport part it follows only what was there: nothing at all
		 * ("PROTO=TCP INCOMPLETE"), or ICMP's TYPE and CODE before an error too short
		 * for its body, which must stay.
		 */
		if (tok_is(&t, "INCOMPLETE")) {
			if (part == PART_IP && after_frag)	/* IPv6 "FRAG:n INCOMPLETE": M */
				rec->pkt.frag |= 1;
			continue;
		}
		after_frag = t.n > 5 && memcmp(t.s, "FRAG:", 5) == 0;
		/* "OPT (hex)" of IPv4 and TCP; IPv6's "OPT ( FRAG:... )" is read field by field. */
		if (tok_is(&t, "OPT") && p < end && *p == '(' && p + 1 < end && p[1] != ' ') {
			while (p < end && *p != ' ')
				p++;
			continue;
		}
		if (tok_is(&t, "OPT") || tok_is(&t, "(") || tok_is(&t, ")"))
			continue;
		if (t.n >= 3 && memcmp(t.s, "IN=", 3) == 0)
			seen_in = true;
		if (t.n >= 4 && memcmp(t.s, "OUT=", 4) == 0)
			seen_out = true;
		ret = field(&t, part, rec);
		if (ret < 0)
			return ret;
		if (t.n > 6 && memcmp(t.s, "PROTO=", 6) == 0)
			part = PART_L4;
	}
	if (!seen_in || !seen_out)
		return -EINVAL;
	if (rec->pkt.family == AF_INET6) {
		rec->nfproto = NFPROTO_IPV6;
		if (rec->pkt.frag & 0xfff8)
			rec->pkt.has_l4 = rec->pkt.has_ports = false;
	} else if (rec->pkt.family == AF_INET) {
		rec->nfproto = NFPROTO_IPV4;
	}
	return 0;
}

/* ---- reading ---- */

struct logline_reader {
	FILE	*in;
	char	line[LOGLINE_MAX + 1];
};

struct logline_reader *logline_reader_new(FILE *in)
{
	struct logline_reader *r = malloc(sizeof(*r));

	if (!r)
		return NULL;
	r->in = in;
	return r;
}

void logline_reader_free(struct logline_reader *r)
{
	free(r);
}

int logline_next(struct logline_reader *r, const char **line, size_t *len,
		 struct logline_stats *st)
{
	for (;;) {
		size_t n = 0;
		bool over = false, any = false;
		int c;

		/* Byte by byte from stdio's buffer: what a pipe has is taken as it comes. */
		while ((c = getc_unlocked(r->in)) != EOF) {
			any = true;
			if (c == '\n')
				break;
			if (n < LOGLINE_MAX)
				r->line[n++] = (char)c;
			else
				over = true;	/* read on to the end of the line, keep nothing */
		}
		if (c == EOF && ferror(r->in))
			return errno ? -errno : -EIO;
		if (!any)
			return 0;
		if (over) {
			st->too_long++;
			continue;
		}
		r->line[n] = '\0';
		*line = r->line;
		*len = n;
		return 1;
	}
}
