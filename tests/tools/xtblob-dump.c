/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xtblob-dump.c: write a legacy table's GET_INFO and GET_ENTRIES blob (tests/data/*.xtblob) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <net/if.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

/*
 * Usage: xtblob-dump 4|6 TABLE > FILE. The file: one text line "xtblob FAMILY TABLE
 * VALID_HOOKS HOOK_ENTRY*5 UNDERFLOW*5 NUM_ENTRIES SIZE", then SIZE bytes of entries as the
 * kernel wrote them into a zeroed buffer. tests/unit/test_resolver.c reads it.
 */
int main(int argc, char **argv)
{
	int v6 = argc > 1 && strcmp(argv[1], "6") == 0;
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW, IPPROTO_RAW);
	struct ipt_getinfo info;
	struct ipt_get_entries *ge;
	socklen_t len = sizeof(info);

	if (argc != 3 || fd < 0) {
		fprintf(stderr, "usage: xtblob-dump 4|6 TABLE (as root)\n");
		return 2;
	}
	memset(&info, 0, sizeof(info));
	snprintf(info.name, sizeof(info.name), "%s", argv[2]);
	if (getsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IP6T_SO_GET_INFO : IPT_SO_GET_INFO,
		       &info, &len) < 0) {
		perror("GET_INFO");
		return 1;
	}
	ge = calloc(1, sizeof(*ge) + info.size);
	if (!ge)
		return 1;
	snprintf(ge->name, sizeof(ge->name), "%s", argv[2]);
	ge->size = info.size;
	len = sizeof(*ge) + info.size;
	if (getsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP,
		       v6 ? IP6T_SO_GET_ENTRIES : IPT_SO_GET_ENTRIES, ge, &len) < 0) {
		perror("GET_ENTRIES");
		return 1;
	}
	printf("xtblob %d %s %u", v6 ? 6 : 4, argv[2], info.valid_hooks);
	for (int i = 0; i < 5; i++)
		printf(" %u", info.hook_entry[i]);
	for (int i = 0; i < 5; i++)
		printf(" %u", info.underflow[i]);
	printf(" %u %u\n", info.num_entries, info.size);
	fwrite(ge->entrytable, 1, info.size, stdout);
	return 0;
}
