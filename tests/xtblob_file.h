/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xtblob_file.h: a recorded GET_ENTRIES blob (tests/data/record-xtblob.sh) read back, for the tests and the fuzz harness */
#ifndef IPTRACE_TESTS_XTBLOB_FILE_H
#define IPTRACE_TESTS_XTBLOB_FILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "iptrace/xtblob.h"

/* A recorded blob: its GET_INFO line, then the entries. */
struct blob {
	struct xtblob_info	info;
	char			*entries;	/* 8-byte aligned, as the kernel's */
};

/* blob_read - the blob in @path into @b. 0, or -1 when it can't be read or is no blob. */
static inline int blob_read(struct blob *b, const char *path)
{
	FILE *f = fopen(path, "re");
	char line[512];
	int fam, n = 0, ret = -1;

	memset(b, 0, sizeof(*b));
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f) ||
	    sscanf(line, "xtblob %d %31s %u %u %u %u %u %u %u %u %u %u %u %u %u%n", &fam,
		   b->info.name, &b->info.valid_hooks, &b->info.hook_entry[0],
		   &b->info.hook_entry[1], &b->info.hook_entry[2], &b->info.hook_entry[3],
		   &b->info.hook_entry[4], &b->info.underflow[0], &b->info.underflow[1],
		   &b->info.underflow[2], &b->info.underflow[3], &b->info.underflow[4],
		   &b->info.num_entries, &b->info.size, &n) != 15)
		goto out;
	b->info.family = fam == 6 ? AF_INET6 : AF_INET;
	b->entries = aligned_alloc(8, (b->info.size + 15) & ~(size_t)7);
	if (b->entries && fread(b->entries, 1, b->info.size, f) == b->info.size)
		ret = 0;
out:
	fclose(f);
	return ret;
}

static inline void blob_free(struct blob *b)
{
	free(b->entries);
	b->entries = NULL;
}

#endif
