/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_options.c: libFuzzer harness — any command line through options_parse() and the selection it builds */
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>

#include "iptrace/options.h"
#include "iptrace/sink.h"
#include "harness.h"

/*
 * The input is a command line: arguments separated by NUL bytes (at most 32), after
 * "iptrace". options_parse() must return 0, or -EINVAL with a message: not empty, and no
 * control byte but those an argument it quotes brought (diag() shows the message on one
 * line, issue 17 item 1). What it accepts is a selection the markers can write: ports
 * 1-65535 in order and at most 15 slots, prefixes with their host bits clear, a family for
 * every address, an interface name of 1-15 bytes, modes and their options that go together.
 *
 * getaddrinfo() is this harness's own (the library's calls link to it, not libc's): it
 * resolves nothing (no DNS, no hang), and aborts when handed text that is a number in
 * disguise — what inet_aton() or inet_pton() read as an address ("0x7f.1", "017.0.0.1",
 * "2130706433" are all 127.0.0.1 to getaddrinfo()), or only digits and dots,
 * or anything with a colon. As the README says, dotted or colon numeric text never goes to the
 * resolver (getaddrinfo would turn 1.2.3 into 1.2.0.3). Names ending in ".test" (RFC 2606)
 * get addresses, a number of them that depends on the name, so the resolved path runs too.
 */

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res);
void freeaddrinfo(struct addrinfo *res);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	struct in_addr a4;
	struct in6_addr a6;
	size_t len = node ? strlen(node) : 0, n;
	struct addrinfo *head = NULL, **tail = &head;

	/*
	 * getaddrinfo() reads a node as an IPv4 number when inet_aton() takes it (glibc before
	 * 2.32 even with anything after white space: "1.2.3 x" was 1.2.0.3).
	 */
	if (!node || inet_aton(node, &a4) || inet_pton(AF_INET6, node, &a6) == 1 ||
	    strspn(node, "0123456789.") == len || strchr(node, ':')) {
		fprintf(stderr, "numeric text '%s' reached the resolver\n", node ? node : "(null)");
		abort();
	}
	if (len < 5 || strcmp(node + len - 5, ".test") != 0)
		return EAI_NONAME;
	/* 1-10 addresses, v4 and v6 by turns, some of them twice (the caller drops those). */
	n = 1 + (len + (unsigned char)node[0]) % 10;
	for (size_t i = 0; i < n; i++) {
		struct {
			struct addrinfo		ai;
			struct sockaddr_in6	sa;
		} *e = calloc(1, sizeof(*e));

		if (!e)
			abort();
		e->ai.ai_family = i % 2 ? AF_INET6 : AF_INET;
		e->ai.ai_socktype = SOCK_DGRAM;
		e->ai.ai_addr = (struct sockaddr *)&e->sa;
		if (i % 2) {
			e->sa.sin6_family = AF_INET6;
			e->sa.sin6_addr.s6_addr[0] = 0x20;
			e->sa.sin6_addr.s6_addr[1] = 0x01;
			e->sa.sin6_addr.s6_addr[15] = (uint8_t)(i % 3);
			e->ai.ai_addrlen = sizeof(struct sockaddr_in6);
		} else {
			struct sockaddr_in *sin = (struct sockaddr_in *)&e->sa;

			sin->sin_family = AF_INET;
			sin->sin_addr.s_addr = htonl(0xc0000200u | (uint32_t)(i % 3));
			e->ai.ai_addrlen = sizeof(struct sockaddr_in);
		}
		*tail = &e->ai;
		tail = &e->ai.ai_next;
	}
	*res = head;
	return 0;
}

void freeaddrinfo(struct addrinfo *res)
{
	while (res) {
		struct addrinfo *next = res->ai_next;

		free(res);
		res = next;
	}
}

/* Whether an argument holds the byte @c (a message may quote it). */
static FUZZ_ORACLE bool quoted(int argc, char **argv, unsigned char c)
{
	for (int i = 1; i < argc; i++)
		if (strchr(argv[i], c))
			return true;
	return false;
}

static FUZZ_ORACLE bool ports_ok(const struct port_list *pl)
{
	size_t slots = 0;

	for (size_t i = 0; i < pl->n; i++) {
		if (pl->r[i].lo == 0 || pl->r[i].lo > pl->r[i].hi)
			return false;
		slots += pl->r[i].lo == pl->r[i].hi ? 1 : 2;
	}
	return pl->n <= SEL_MAX_PORTS && slots <= SEL_MAX_PORTS;
}

/*
 * @families: -4/-6 where the selection was finished (a name may resolve to both families,
 * so a list may hold the other one too, not only it); 0 otherwise.
 */
static FUZZ_ORACLE bool addrs_ok(const struct addr_list *al, unsigned families)
{
	unsigned seen = 0;

	if (al->n > SEL_MAX_ADDRS)
		return false;
	for (size_t i = 0; i < al->n; i++) {
		const struct addr_prefix *a = &al->a[i];
		unsigned bytes = a->family == AF_INET ? 4 : 16;
		uint8_t mask[16];

		if ((a->family != AF_INET && a->family != AF_INET6) || a->plen > bytes * 8)
			return false;
		addr_prefix_mask(a->plen, mask, bytes);
		for (unsigned b = 0; b < 16; b++)
			if (a->addr.s6_addr[b] & (b < bytes ? (uint8_t)~mask[b] : 0xff))
				return false;	/* host bits, or bytes past an IPv4 address */
		seen |= a->family == AF_INET ? SEL_IPV4 : SEL_IPV6;
	}
	return !families || !al->n || (seen & families);
}

static FUZZ_ORACLE void check_ok(const struct iptrace_opts *o)
{
	const struct selection *s = &o->sel;
	const bool live = o->mode == MODE_TRACE || o->mode == MODE_DEMO;
	const bool finished = live || o->mode == MODE_NAT_LOG || o->mode == MODE_NAT_TABLE;
	const unsigned fam = finished ? o->want_families : 0;
	char desc[512];

	if (o->mode == MODE_HELP || o->mode == MODE_VERSION)
		return;	/* printed at once, nothing else used */
	if (!sink_lookup(o->format) || !o->window_ms || o->window_ms > 600000 ||
	    (o->output_time && !o->output) || o->color < -1 || o->color > 1 ||
	    (o->rcvbuf && (o->rcvbuf < 1024 || o->rcvbuf > (1u << 30))) ||
	    !(o->wait_s >= 0 && o->wait_s <= 1e9) || !(o->duration >= 0 && o->duration <= 1e9))
		goto bad;
	if (!ports_ok(&s->ports) || !ports_ok(&s->sports) || !ports_ok(&s->dports) ||
	    !addrs_ok(&s->src, fam) || !addrs_ok(&s->dst, fam) || !addrs_ok(&s->host, fam) ||
	    s->nprotos > SEL_MAX_PROTOS ||
	    (s->host.n && (s->src.n || s->dst.n)))
		goto bad;
	for (size_t i = 0; i < s->nprotos; i++)
		if (!s->protos[i])
			goto bad;
	if (s->iface[0] && !memchr(s->iface, '\0', sizeof(s->iface)))
		goto bad;
	if (o->mode == MODE_TRACE && selection_empty(s))
		goto bad;	/* live tracing needs a selector */
	if (live && (!s->families || (o->want_families && (s->families & ~o->want_families))))
		goto bad;
	if ((o->mode == MODE_READ || o->mode == MODE_REPLAY) && !o->input)
		goto bad;
	if (o->nat_all && o->mode != MODE_NAT_LOG && o->mode != MODE_NAT_TABLE)
		goto bad;
	/* The description --list shows: whatever was selected, it ends in the buffer. */
	selection_describe(s, desc, sizeof(desc));
	if (!memchr(desc, '\0', sizeof(desc)))
		goto bad;
	for (size_t i = 0; i < selection_addr_pairs(s); i++) {
		const struct addr_prefix *src, *dst;

		selection_addr_pair(s, i, &src, &dst);
	}
	return;
bad:
	fprintf(stderr, "options_parse() took a command line it should refuse (mode %d)\n",
		(int)o->mode);
	abort();
}

/* The command line of the input into @argv (each argument its own allocation). */
static int split(const uint8_t *data, size_t size, char **argv)
{
	int argc = 1;
	size_t off = 0;

	argv[0] = strdup("iptrace");
	while (off < size && argc < 33) {
		const uint8_t *nul = memchr(data + off, '\0', size - off);
		size_t len = nul ? (size_t)(nul - data - off) : size - off;

		/* Each argument its own allocation of its exact size: ASan sees a read past it. */
		argv[argc] = malloc(len + 1);
		if (!argv[argc])
			abort();
		memcpy(argv[argc], data + off, len);
		argv[argc++][len] = '\0';
		off += len + 1;
	}
	argv[argc] = NULL;
	return argc;
}

static void free_args(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		free(argv[i]);
}

static FUZZ_ORACLE bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Two parses of one command line: the same options (the strings point into each argv). */
static FUZZ_ORACLE bool same(const struct iptrace_opts *a, const struct iptrace_opts *b)
{
	return a->mode == b->mode && memcmp(&a->sel, &b->sel, sizeof(a->sel)) == 0 &&
	       a->want_families == b->want_families && a->backend == b->backend &&
	       same_str(a->format, b->format) && a->count == b->count &&
	       a->duration == b->duration && a->wait_s == b->wait_s &&
	       a->window_ms == b->window_ms && same_str(a->output, b->output) &&
	       a->output_time == b->output_time && same_str(a->input, b->input) &&
	       same_str(a->record, b->record) && a->rcvbuf == b->rcvbuf &&
	       same_str(a->netns, b->netns) && a->verbose == b->verbose &&
	       a->no_group == b->no_group && a->log_time == b->log_time &&
	       a->color == b->color && a->nat_all == b->nat_all && a->nat == b->nat;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[34], *argv2[34], err[256], err2[256];
	struct iptrace_opts o, o2;
	int argc, ret, ret2;

	if (size > 4096)
		return -1;
	/*
	 * Parsed twice, each from a fresh copy: the parser keeps nothing of a call (getopt's
	 * place in an argv included), so the answers are the same. (The previous input's
	 * argv is freed: a parser that went on in it is a use after free.)
	 */
	argc = split(data, size, argv2);
	ret2 = options_parse(argc, argv2, &o2, err2, sizeof(err2));
	split(data, size, argv);
	memset(err, 0x55, sizeof(err));
	ret = options_parse(argc, argv, &o, err, sizeof(err));
	if (ret != ret2 || (ret == 0 && !same(&o, &o2)) || (ret && strcmp(err, err2) != 0)) {
		fprintf(stderr, "a second parse of the same command line differs\n");
		abort();
	}
	if (ret == 0) {
		check_ok(&o);
	} else {
		size_t len = strnlen(err, sizeof(err));

		if (ret != -EINVAL || len == 0 || len == sizeof(err)) {
			fprintf(stderr, "options_parse() gave %d with message '%.*s'\n", ret,
				(int)len, err);
			abort();
		}
		/* A message about an option names an option, not a program or a value. */
		if ((strncmp(err, "unknown option '", 16) == 0 && err[16] != '-') ||
		    (strncmp(err, "option '", 8) == 0 && err[8] != '-')) {
			fprintf(stderr, "a message that names no option: '%s'\n", err);
			abort();
		}
		for (size_t i = 0; i < len; i++)
			if (((unsigned char)err[i] < 0x20 || err[i] == 0x7f) &&
			    !quoted(argc, argv, (unsigned char)err[i])) {
				fprintf(stderr, "control byte %#x of its own in '%s'\n", err[i], err);
				abort();
			}
	}
	free_args(argc, argv);
	free_args(argc, argv2);
	return 0;
}
