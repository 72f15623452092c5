/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink.c: the formatter registry and helpers they share */
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "iptrace/sink.h"

const struct sink_ops *sink_lookup(const char *name)
{
	static const struct sink_ops *const all[] = {
		&sink_text_ops, &sink_json_ops, &sink_log_ops, &sink_journal_ops,
	};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

int sink_flush(const struct sink *s)
{
	if (s->opts.deferred_flush)
		return ferror(s->out) ? -1 : 0;
	return fflush(s->out) == EOF ? -1 : 0;
}

char *sink_fmt_time(uint64_t ts_ns, char *buf, size_t size)
{
	time_t sec = (time_t)(ts_ns / 1000000000ull);
	struct tm tm;
	size_t n;

	buf[0] = '\0';
	if (!ts_ns || !gmtime_r(&sec, &tm))
		return buf;
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n)
		snprintf(buf + n, size - n, ".%06uZ", (unsigned)(ts_ns % 1000000000ull / 1000));
	return buf;
}

char *sink_fmt_addr(const struct pkt_hdr *h, bool dst, char *buf, size_t size)
{
	const struct in6_addr *a = dst ? &h->daddr : &h->saddr;

	buf[0] = '\0';
	if (h->family == AF_INET || h->family == AF_INET6)
		inet_ntop(h->family, a, buf, (socklen_t)size);
	return buf;
}

void sink_json_str(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			putc('\\', f);
			putc(c, f);
		} else if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
		} else {
			putc(c, f);
		}
	}
	putc('"', f);
}
