/* SPDX-License-Identifier: GPL-2.0-or-later */
/* logbind.c: the nf_log binding, read and restored through /proc (netlink can't read it) */
#include <errno.h>
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

int logbind_write(int pf, const char *name)
{
	char path[64];
	size_t len = strlen(name);
	ssize_t n;
	int fd, ret = 0;

	path_of(pf, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, name, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

int logbind_prepare(struct logbind *lb, int pf)
{
	int ret;

	lb->pf = pf;
	lb->changed = false;
	ret = logbind_read(pf, lb->saved, sizeof(lb->saved));
	if (ret < 0)
		return ret;
	lb->changed = strcmp(lb->saved, "nfnetlink_log") != 0;
	return 0;
}

int logbind_apply(struct logbind *lb)
{
	int ret;

	if (!lb->changed)
		return 0;
	ret = logbind_write(lb->pf, "nfnetlink_log");
	if (ret < 0)
		lb->changed = false;
	return ret;
}

int logbind_restore(struct logbind *lb)
{
	int ret;

	if (!lb->changed)
		return 0;
	ret = logbind_write(lb->pf, lb->saved);
	if (ret == 0)
		lb->changed = false;
	return ret;
}
