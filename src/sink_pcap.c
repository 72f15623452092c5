/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sink_pcap.c: --pcap — each packet as a pcapng block, its steps as the packet's comment */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>

#include "iptrace/pkt.h"
#include "iptrace/sink.h"

/*
 * pcapng (draft-ietf-opsawg-pcapng): a Section Header Block, an Interface Description Block
 * per interface name, then one Enhanced Packet Block per packet. Written in host byte
 * order, which the section's byte-order magic tells readers. No trailer: the file is whole
 * after every block, and each block goes out in one write, flushed at once, so whatever
 * ends the capture leaves a file readable up to its last packet.
 */
#define BT_SHB		0x0A0D0D0Au
#define BT_IDB		0x00000001u
#define BT_EPB		0x00000006u
#define OPT_END		0
#define OPT_COMMENT	1
#define SHB_USERAPPL	4
#define IF_NAME		2
#define IF_TSRESOL	9
#define EPB_PACKETID	5
/* The NFLOG payload and the nft trace's headers start at the IP header (v4 or v6). */
#define LINKTYPE_RAW	101
#define MAX_IFS		256

struct pcap_state {
	char	ifs[MAX_IFS][IF_NAMESIZE];	/* IDB n describes ifs[n] */
	size_t	nifs;
	/* The block being built: grown as needed, written in one go. */
	uint8_t	*buf;
	size_t	len, size;
	int	err;
};

static void put(struct pcap_state *st, const void *p, size_t n)
{
	if (!n)
		return;
	if (st->len + n > st->size) {
		size_t size = st->size ? st->size : 4096;
		uint8_t *b;

		while (size < st->len + n)
			size *= 2;
		b = realloc(st->buf, size);
		if (!b) {
			st->err = -1;
			return;
		}
		st->buf = b;
		st->size = size;
	}
	memcpy(st->buf + st->len, p, n);
	st->len += n;
}

static void put32(struct pcap_state *st, uint32_t v)
{
	put(st, &v, 4);
}

static void put16(struct pcap_state *st, uint16_t v)
{
	put(st, &v, 2);
}

static void pad(struct pcap_state *st)
{
	static const uint8_t zero[4];

	put(st, zero, (4 - st->len % 4) % 4);
}

static void option(struct pcap_state *st, uint16_t code, const void *val, size_t n)
{
	if (n > UINT16_MAX)
		n = UINT16_MAX;
	put16(st, code);
	put16(st, (uint16_t)n);
	put(st, val, n);
	pad(st);
}

static void block_start(struct pcap_state *st, uint32_t type)
{
	st->len = 0;
	put32(st, type);
	put32(st, 0);	/* total length, set by block_end() */
}

/* Close the block (its length at both ends) and write it, flushed. */
static void block_end(struct sink *s, struct pcap_state *st)
{
	uint32_t total;

	pad(st);
	total = (uint32_t)st->len + 4;
	put32(st, total);
	if (st->err)
		return;
	memcpy(st->buf + 4, &total, 4);
	if (fwrite(st->buf, 1, st->len, s->out) != st->len || fflush(s->out) == EOF)
		st->err = -1;
}

static int pcap_begin(struct sink *s)
{
	static const char appl[] = "iptrace " PACKAGE_VERSION;
	struct pcap_state *st = calloc(1, sizeof(*st));
	uint64_t section = UINT64_MAX;	/* length not given */

	if (!st)
		return -1;
	s->priv = st;
	block_start(st, BT_SHB);
	put32(st, 0x1A2B3C4Du);
	put16(st, 1);
	put16(st, 0);
	put(st, &section, 8);
	option(st, SHB_USERAPPL, appl, sizeof(appl) - 1);
	option(st, OPT_END, NULL, 0);
	block_end(s, st);
	return st->err;
}

/* The IDB index of interface @name, written the first time it shows. -1 when full. */
static long iface(struct sink *s, struct pcap_state *st, const char *name)
{
	static const uint8_t ns = 9;	/* if_tsresol: 10^-9 s, the records' own unit */
	char shown[SINK_TEXT_NAME_MAX(IF_NAMESIZE)];

	for (size_t i = 0; i < st->nifs; i++)
		if (strncmp(st->ifs[i], name, IF_NAMESIZE) == 0)
			return (long)i;
	if (st->nifs == MAX_IFS)
		return -1;
	snprintf(st->ifs[st->nifs], IF_NAMESIZE, "%s", name);
	block_start(st, BT_IDB);
	put16(st, LINKTYPE_RAW);
	put16(st, 0);
	put32(st, 0);	/* snaplen: no limit */
	/* pcapng's if_name is UTF-8 text, shown to people: escaped as the text formats do. */
	sink_text_name(name, shown, sizeof(shown));
	option(st, IF_NAME, shown, strlen(shown));
	option(st, IF_TSRESOL, &ns, 1);
	option(st, OPT_END, NULL, 0);
	block_end(s, st);
	return (long)st->nifs++;
}

/*
 * The packet's bytes as first seen: an NFLOG copy (the packet, cut at TRACE_RAW_MAX); else
 * the network and transport headers of an nft trace record, which is all the kernel sends
 * there; else (--read) headers rebuilt from the log line's fields. @note says which.
 */
static const uint8_t *packet_bytes(const struct packet *p, uint8_t *rebuilt, size_t *len,
				   const char **note)
{
	*note = NULL;
	for (size_t i = 0; i < p->nsteps; i++)
		if (p->steps[i].backend == TRACE_BACKEND_LEGACY && p->steps[i].raw_len) {
			*len = p->steps[i].raw_len;
			return p->steps[i].raw;
		}
	for (size_t i = 0; i <= p->nsteps; i++) {
		/* The first view first: a hidden marker step's, before a reply's NAT was undone. */
		const struct trace_record *r = i ? &p->steps[i - 1] : packet_first(p);

		if (r->raw_len) {
			*len = r->raw_len;
			*note = "headers only: an nf_tables trace carries the packet's network and "
				"transport headers, not its payload";
			return r->raw;
		}
	}
	*len = pkt_rebuild(&packet_first(p)->pkt, rebuilt);
	*note = "headers rebuilt from the log line's fields: no payload, transport checksums 0";
	return rebuilt;
}

/* The comment: why the bytes are short, if they are, then the steps as text prints them. */
static char *comment(const struct packet *p, const char *note, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		return NULL;
	if (note)
		fprintf(f, "%s\n", note);
	sink_text_steps(f, p);
	if (fclose(f) == EOF) {
		free(text);
		return NULL;
	}
	while (*len && text[*len - 1] == '\n')
		text[--*len] = '\0';
	return text;
}

static int pcap_packet(struct sink *s, const struct packet *p)
{
	struct pcap_state *st = s->priv;
	const struct trace_record *first = packet_first(p);
	uint8_t rebuilt[PKT_REBUILD_MAX];
	const uint8_t *bytes;
	const char *note;
	size_t caplen, clen;
	uint32_t origlen;
	uint64_t ts;
	char *text;
	long idb;

	if (!st || st->err)
		return -1;
	idb = iface(s, st, first->in[0] ? first->in : first->out[0] ? first->out : "unknown");
	if (idb < 0)
		return 0;	/* more interfaces than a capture should see: skip, not fail */
	bytes = packet_bytes(p, rebuilt, &caplen, &note);
	origlen = first->pkt.len > caplen ? first->pkt.len : (uint32_t)caplen;
	text = comment(p, note, &clen);
	/* dmesg's lines have only the time since boot: as if from 1970, the gaps stay right. */
	ts = first->ts_ns ? first->ts_ns : first->uptime_ns;
	block_start(st, BT_EPB);
	put32(st, (uint32_t)idb);
	put32(st, (uint32_t)(ts >> 32));
	put32(st, (uint32_t)ts);
	put32(st, (uint32_t)caplen);
	put32(st, origlen);
	put(st, bytes, caplen);
	pad(st);
	if (text)
		option(st, OPT_COMMENT, text, clen);
	option(st, EPB_PACKETID, &p->id, 8);
	option(st, OPT_END, NULL, 0);
	free(text);
	block_end(s, st);
	return st->err;
}

/* --no-group: each record as a packet of one step. */
static int pcap_record(struct sink *s, const struct trace_record *r)
{
	struct packet p = { .id = 0, .nsteps = 1, .steps = r };

	return pcap_packet(s, &p);
}

static int pcap_end(struct sink *s, const struct summary *sum)
{
	struct pcap_state *st = s->priv;
	int err = st ? st->err : -1;

	(void)sum;
	if (st) {
		free(st->buf);
		free(st);
	}
	s->priv = NULL;
	return err < 0 || fflush(s->out) == EOF ? -1 : 0;
}

const struct sink_ops sink_pcap_ops = {
	.name = "pcap",
	.begin = pcap_begin,
	.packet = pcap_packet,
	.record = pcap_record,
	.end = pcap_end,
};
