/* SPDX-License-Identifier: GPL-2.0-or-later */
/* seeds.c: cut recorded .nlrec files into fuzzing seeds — one recv() buffer, one payload each */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

#include "iptrace/nlrec.h"

/*
 * Usage: seeds [-t NFTRACE_DIR] [-c CT_DIR] NFLOG_DIR PKT_DIR FILE.nlrec...
 * NFLOG_DIR gets each recorded NFLOG chunk as a file (the fuzz_nflog input); PKT_DIR gets
 * each message's NFULA_PAYLOAD behind one byte naming its family (the fuzz_pkt input);
 * NFTRACE_DIR each NLREC_NFTRACE chunk (fuzz_nftrace), CT_DIR each NLREC_CONNTRACK chunk
 * (fuzz_ct). Prints how many of each it wrote; exits 1 on any error or when a directory
 * it was given got nothing, so an empty corpus can't pass.
 */

static int write_file(const char *dir, const char *name, unsigned n, const void *a,
		      size_t alen, const void *b, size_t blen)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s-%04u", dir, name, n);
	f = fopen(path, "we");
	if (!f) {
		fprintf(stderr, "seeds: cannot create '%s': %s\n", path, strerror(errno));
		return -1;
	}
	ok = fwrite(a, 1, alen, f) == alen && fwrite(b, 1, blen, f) == blen;
	if (fclose(f) != 0 || !ok) {
		fprintf(stderr, "seeds: cannot write '%s'\n", path);
		return -1;
	}
	return 0;
}

static int payload_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **payload = data;

	if (mnl_attr_get_type(attr) == NFULA_PAYLOAD)
		*payload = attr;
	return MNL_CB_OK;
}

int main(int argc, char **argv)
{
	unsigned nchunks = 0, npayloads = 0, ntrace = 0, nct = 0;
	const char *trace_dir = NULL, *ct_dir = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "t:c:")) != -1) {
		switch (opt) {
		case 't':
			trace_dir = optarg;
			break;
		case 'c':
			ct_dir = optarg;
			break;
		default:
			goto usage;
		}
	}
	argv += optind - 1;
	argc -= optind - 1;
	if (argc < 4) {
usage:
		fprintf(stderr, "usage: seeds [-t NFTRACE_DIR] [-c CT_DIR] NFLOG_DIR PKT_DIR "
			"FILE.nlrec...\n");
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
		struct nlrec *r = nlrec_open(argv[i]);
		const void *buf;
		uint16_t source;
		uint64_t ts;
		size_t len;
		int ret;

		if (!r) {
			fprintf(stderr, "seeds: cannot open '%s': %s\n", argv[i], strerror(errno));
			return 1;
		}
		while ((ret = nlrec_next(r, &source, &ts, &buf, &len)) > 0) {
			const struct nlmsghdr *nlh = buf;
			int left = (int)len;

			if (source == NLREC_NFTRACE && trace_dir) {
				if (write_file(trace_dir, base, ntrace++, buf, len, "", 0) < 0)
					return 1;
				continue;
			}
			if (source == NLREC_CONNTRACK && ct_dir) {
				if (write_file(ct_dir, base, nct++, buf, len, "", 0) < 0)
					return 1;
				continue;
			}
			if (source != NLREC_NFLOG)
				continue;
			if (write_file(argv[1], base, nchunks++, buf, len, "", 0) < 0)
				return 1;
			for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
				const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
				const struct nlattr *payload = NULL;
				uint8_t fam;

				if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*nfg)) ||
				    mnl_attr_parse(nlh, sizeof(*nfg), payload_cb, &payload) < 0 ||
				    !payload)
					continue;
				/* fuzz_pkt's first byte: 0 → version nibble, 1 → v4, 2 → v6 */
				fam = nfg->nfgen_family == AF_INET ? 1 : nfg->nfgen_family == AF_INET6 ? 2 : 0;
				if (write_file(argv[2], base, npayloads++, &fam, 1,
					       mnl_attr_get_payload(payload),
					       mnl_attr_get_payload_len(payload)) < 0)
					return 1;
			}
		}
		nlrec_close(r);
		if (ret < 0) {
			fprintf(stderr, "seeds: '%s' is truncated or corrupt\n", argv[i]);
			return 1;
		}
	}
	printf("seeds: %u netlink buffers, %u payloads, %u nftrace buffers, %u conntrack buffers\n",
	       nchunks, npayloads, ntrace, nct);
	return nchunks && npayloads && (ntrace || !trace_dir) && (nct || !ct_dir) ? 0 : 1;
}
