/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xtlock.c: the xtables lock, as iptables takes it, waited for as a person can bear */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "iptrace/diag.h"
#include "iptrace/loop.h"
#include "iptrace/xtlock.h"

struct xtlock {
	struct xtlock_cfg	cfg;
	char			path[4096];
	int			fd;		/* open while held or being waited for */
	unsigned		depth;
	char			err[512];
};

struct xtlock *xtlock_new(const struct xtlock_cfg *cfg)
{
	const char *path = getenv("XTABLES_LOCKFILE");
	struct xtlock *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->cfg = *cfg;
	l->fd = -1;
	snprintf(l->path, sizeof(l->path), "%s", path && *path ? path : XTLOCK_PATH_DEFAULT);
	return l;
}

/*
 * A process's command name is chosen by that process (prctl(PR_SET_NAME)): shown with
 * anything but printable ASCII as \xHH, so no terminal control reaches stderr through it.
 */
static void comm_of(pid_t pid, char *buf, size_t size)
{
	char path[64], raw[32];
	size_t o = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, raw, sizeof(raw) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		snprintf(buf, size, "?");
		return;
	}
	if (raw[n - 1] == '\n')
		n--;
	for (ssize_t i = 0; i < n && o + 5 < size; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
	}
	buf[o] = '\0';
}

/*
 * Who holds the flock on @fd's file: /proc/locks, as lslocks reads it ("1: FLOCK ADVISORY
 * WRITE PID MAJ:MIN:INODE 0 EOF", the device in hex; waiters are marked "->").
 */
static void holder(int fd, char *buf, size_t size)
{
	char line[256], comm[80];
	struct stat st;
	FILE *f;
	int pid = -1;

	snprintf(buf, size, "another process");
	if (fstat(fd, &st) < 0 || !(f = fopen("/proc/locks", "re")))
		return;
	while (pid < 0 && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long ino;
		char type[16];
		int p;

		if (strstr(line, "->") ||
		    sscanf(line, "%*[^:]: %15s %*s %*s %d %x:%x:%lu", type, &p, &maj, &min, &ino) != 5)
			continue;
		if (strcmp(type, "FLOCK") == 0 && maj == major(st.st_dev) &&
		    min == minor(st.st_dev) && ino == st.st_ino)
			pid = p;
	}
	fclose(f);
	/* 0: a holder in a PID namespace we can't see into. */
	if (pid <= 0)
		return;
	comm_of(pid, comm, sizeof(comm));
	snprintf(buf, size, "PID %d (%s)", pid, comm);
}

static int try_lock(void *ctx)
{
	struct xtlock *l = ctx;

	if (flock(l->fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK || errno == EINTR)
		return -EAGAIN;
	return -errno;
}

static void say_waiting(void *ctx)
{
	struct xtlock *l = ctx;
	char who[128];

	holder(l->fd, who, sizeof(who));
	diag_info("waiting for the xtables lock (%s), held by %s, for up to %g s (--wait)",
		  l->path, who, l->cfg.wait_s);
}

int xtlock_take(struct xtlock *l)
{
	struct loop_retry r = {
		.attempt = try_lock, .slow = say_waiting, .ctx = l, .limit_s = l->cfg.wait_s,
		.stop = l->cfg.stop, .waitmask = l->cfg.waitmask,
	};
	char who[128];
	int ret;

	if (l->depth) {
		l->depth++;
		return 0;
	}
	l->err[0] = '\0';
	l->fd = open(l->path, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (l->fd < 0) {
		ret = -errno;
		snprintf(l->err, sizeof(l->err), "cannot open the xtables lock '%.256s': %s", l->path,
			 strerror(-ret));
		return ret;
	}
	ret = loop_retry(&r);
	if (ret == 0) {
		l->depth = 1;
		return 0;
	}
	if (ret == -ETIMEDOUT) {
		/* iptables -w's words, on one line. */
		holder(l->fd, who, sizeof(who));
		snprintf(l->err, sizeof(l->err), "another app is currently holding the xtables lock "
			 "(%.256s, %s); stopped waiting after %g s (--wait)", l->path, who, l->cfg.wait_s);
	} else if (ret == -EINTR) {
		snprintf(l->err, sizeof(l->err), "interrupted while waiting for the xtables lock (%.256s)",
			 l->path);
	} else {
		snprintf(l->err, sizeof(l->err), "cannot lock '%.256s': %s", l->path, strerror(-ret));
	}
	close(l->fd);
	l->fd = -1;
	return ret;
}

void xtlock_drop(struct xtlock *l)
{
	if (!l->depth || --l->depth)
		return;
	close(l->fd);	/* closing drops the flock */
	l->fd = -1;
}

bool xtlock_held(const struct xtlock *l)
{
	return l->depth > 0;
}

const char *xtlock_path(const struct xtlock *l)
{
	return l->path;
}

const char *xtlock_error(const struct xtlock *l)
{
	return l->err;
}

void xtlock_free(struct xtlock *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}
