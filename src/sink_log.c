/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink_log.c: the kernel's own "TRACE:" syslog lines, so greps written for dmesg keep working */
#include <string.h>
#include <time.h>

#include "iptrace/logline.h"
#include "iptrace/sink.h"

static int log_begin(struct sink *s)
{
	(void)s;
	return 0;
}

/*
 * One line: the optional "Mon DD HH:MM:SS " prefix (UTC, as --read takes it back), then the
 * kernel's text with its trailing space. Records without a time get no prefix rather than
 * a made-up one.
 */
static int put_line(struct sink *s, const struct trace_record *r)
{
	if (s->opts.time_prefix && r->ts_ns) {
		time_t sec = (time_t)(r->ts_ns / 1000000000ull);
		struct tm tm;
		char ts[32];

		if (gmtime_r(&sec, &tm) && strftime(ts, sizeof(ts), "%b %e %H:%M:%S ", &tm))
			fputs(ts, s->out);
	}
	if (logline_format(s->out, r) < 0)
		return -1;
	return putc('\n', s->out) == EOF ? -1 : 0;
}

/*
 * A bridged packet's POSTROUTING record carries no bridge input port: br_netfilter passes
 * no input device there, and nfnetlink_log sends PHYSINDEV only beside one. The kernel's
 * line still prints PHYSIN= (the skb keeps its port from PREROUTING on), as the packet's
 * earlier steps show it: taken from them. Records printed one by one (--no-group) can't.
 */
static int log_packet(struct sink *s, const struct packet *p)
{
	const char *physin = "";

	for (size_t i = 0; i < p->nsteps; i++) {
		const struct trace_record *r = &p->steps[i];
		struct trace_record bridged;

		if (r->physin[0]) {
			physin = r->physin;
		} else if (physin[0] && !r->in[0] && r->physout[0]) {
			bridged = *r;
			memcpy(bridged.physin, physin, sizeof(bridged.physin));
			r = &bridged;
		}
		if (put_line(s, r) < 0)
			return -1;
	}
	/* Per packet, like the other formats, so `tail -f` and pipes see whole packets. */
	return sink_flush(s);
}

static int log_record(struct sink *s, const struct trace_record *r)
{
	return put_line(s, r);
}

static int log_end(struct sink *s, const struct summary *sum)
{
	(void)sum;	/* no summary line: the output stays pure kernel lines */
	return fflush(s->out) == EOF ? -1 : 0;
}

const struct sink_ops sink_log_ops = {
	.name = "log",
	.begin = log_begin,
	.packet = log_packet,
	.record = log_record,
	.end = log_end,
};
