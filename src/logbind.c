/* SPDX-License-Identifier: GPL-2.0-or-later */
/* logbind.c: the nf_log binding, read and restored through /proc (netlink can't read it) */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "iptrace/logbind.h"

static void path_of(int pf, char *path, size_t size)
{
	snprintf(path, size, "/proc/sys/net/netfilter/nf_log/%d", pf);
}

int logbind_read(int pf, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	path_of(pf, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* @name into the open nf_log file @fd, from its start. 0 or a negative errno. */
static int put(int fd, const char *name)
{
	size_t len = strlen(name);
	ssize_t n = pwrite(fd, name, len, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int logbind_write(int pf, const char *name)
{
	char path[64];
	int fd, ret;

	path_of(pf, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = put(fd, name);
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

int logbind_prepare(struct logbind *lb, int pf)
{
	int ret;

	lb->pf = pf;
	lb->changed = false;
	lb->fd = -1;
	ret = logbind_read(pf, lb->saved, sizeof(lb->saved));
	if (ret < 0)
		return ret;
	lb->changed = strcmp(lb->saved, "nfnetlink_log") != 0;
	return 0;
}

int logbind_apply(struct logbind *lb)
{
	char path[64];
	int ret;

	if (!lb->changed)
		return 0;
	path_of(lb->pf, path, sizeof(path));
	lb->fd = open(path, O_WRONLY | O_CLOEXEC);
	ret = lb->fd < 0 ? -errno : put(lb->fd, "nfnetlink_log");
	if (ret < 0) {
		if (lb->fd >= 0)
			close(lb->fd);
		lb->fd = -1;
		lb->changed = false;
	}
	return ret;
}

int logbind_restore(struct logbind *lb)
{
	int ret;

	if (!lb->changed)
		return 0;
	ret = lb->fd >= 0 ? put(lb->fd, lb->saved) : logbind_write(lb->pf, lb->saved);
	if (ret == 0) {
		lb->changed = false;
		if (lb->fd >= 0)
			close(lb->fd);
		lb->fd = -1;
	}
	return ret;
}

bool logbind_known(int pf, const char *name, char *list, size_t size)
{
	FILE *f = fopen("/proc/net/netfilter/nf_log", "re");
	char line[512];
	bool known = strcmp(name, "NONE") == 0;

	if (list && size)
		snprintf(list, size, "NONE");
	if (!f)
		return known;
	while (fgets(line, sizeof(line), f)) {
		char *end, *open = strchr(line, '('), *close = strrchr(line, ')'), *tok, *save;
		long n = strtol(line, &end, 10);

		if (end == line || n != pf || !open || !close || close < open)
			continue;
		*close = '\0';
		for (tok = strtok_r(open + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			size_t len = list ? strlen(list) : 0;

			known |= strcmp(tok, name) == 0;
			if (list && len < size)
				snprintf(list + len, size - len, " %s", tok);
		}
		break;
	}
	fclose(f);
	return known;
}
