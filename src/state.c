/* SPDX-License-Identifier: GPL-2.0-or-later */
/* state.c: the /run/iptrace state files behind --cleanup, --list and start-up recovery */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "iptrace/diag.h"
#include "iptrace/marker.h"
#include "iptrace/sink.h"
#include "iptrace/state.h"

const char *state_dir(void)
{
	const char *d = getenv("IPTRACE_STATE_DIR");

	return d && *d ? d : STATE_DIR_DEFAULT;
}

static uint64_t proc_starttime(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: count fields after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%llu", &v);
	return v;
}

static int netns_id(const char *path, uint64_t *dev, uint64_t *ino)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

int state_init(struct capture_state *st, const char *tag)
{
	memset(st, 0, sizeof(*st));
	st->pid = getpid();
	st->starttime = proc_starttime(st->pid);
	snprintf(st->tag, sizeof(st->tag), "%s", tag);
	return netns_id("/proc/self/ns/net", &st->netns_dev, &st->netns_ino);
}

static void path_of(pid_t pid, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%d.state", state_dir(), (int)pid);
}

int state_save(const struct capture_state *st)
{
	char path[512], tmp[520];
	FILE *f;
	int fd, ret = 0;

	if (mkdir(state_dir(), 0700) < 0 && errno != EEXIST)
		return -errno;
	path_of(st->pid, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		ret = -errno;
		close(fd);
		unlink(tmp);
		return ret;
	}
	fprintf(f, "pid=%d\nstarttime=%llu\nnetns=%llu:%llu\ntag=%s\nlegacy4=%d\nlegacy6=%d\n"
		"marker=%s\ndesc=%s\n", (int)st->pid, (unsigned long long)st->starttime,
		(unsigned long long)st->netns_dev, (unsigned long long)st->netns_ino, st->tag,
		st->legacy[0], st->legacy[1], st->marker, st->desc);
	for (int i = 0; i < 2; i++)
		if (st->lb[i].changed)
			fprintf(f, "nf_log/%d=%s\n", st->lb[i].pf, st->lb[i].saved);
	if (fflush(f) == EOF || ferror(f))
		ret = -EIO;
	if (fclose(f) == EOF && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

void state_remove(const struct capture_state *st)
{
	char path[512];

	path_of(st->pid, path, sizeof(path));
	unlink(path);
}

static int state_load(const char *path, struct capture_state *st)
{
	FILE *f = fopen(path, "re");
	char line[512];
	int v;

	if (!f)
		return -errno;
	memset(st, 0, sizeof(*st));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		char *val = strchr(line, '=');
		int pf;

		line[strcspn(line, "\n")] = '\0';
		if (!val)
			continue;
		*val++ = '\0';
		if (strcmp(line, "pid") == 0 && sscanf(val, "%d", &v) == 1)
			st->pid = v;
		else if (strcmp(line, "starttime") == 0 && sscanf(val, "%llu", &a) == 1)
			st->starttime = a;
		else if (strcmp(line, "netns") == 0 && sscanf(val, "%llu:%llu", &a, &b) == 2) {
			st->netns_dev = a;
			st->netns_ino = b;
		} else if (strcmp(line, "tag") == 0)
			snprintf(st->tag, sizeof(st->tag), "%s", val);
		else if (strcmp(line, "legacy4") == 0)
			st->legacy[0] = atoi(val) != 0;
		else if (strcmp(line, "legacy6") == 0)
			st->legacy[1] = atoi(val) != 0;
		else if (strcmp(line, "marker") == 0)
			snprintf(st->marker, sizeof(st->marker), "%s", val);
		else if (strcmp(line, "desc") == 0)
			snprintf(st->desc, sizeof(st->desc), "%s", val);
		else if (sscanf(line, "nf_log/%d", &pf) == 1 && (pf == 2 || pf == 10)) {
			struct logbind *lb = &st->lb[pf == 2 ? 0 : 1];

			lb->pf = pf;
			lb->changed = true;
			snprintf(lb->saved, sizeof(lb->saved), "%s", val);
		}
	}
	fclose(f);
	/* Only a tag we could have written is ever used to delete rules. */
	if (st->pid <= 0 || strncmp(st->tag, "iptrace:", 8) != 0)
		return -EINVAL;
	return 0;
}

bool state_live(const struct capture_state *st)
{
	uint64_t now = proc_starttime(st->pid);

	return now != 0 && (st->starttime == 0 || now == st->starttime);
}

/* Find a way into the namespace @dev:@ino: a named one, or any process inside it. */
static int open_netns(uint64_t dev, uint64_t ino)
{
	const char *dirs[] = { "/run/netns", "/proc" };

	for (int d = 0; d < 2; d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *e;

		if (!dir)
			continue;
		while ((e = readdir(dir))) {
			char path[512];
			uint64_t dv = 0, iv = 0;

			if (e->d_name[0] == '.')
				continue;
			if (d == 1 && (e->d_name[0] < '0' || e->d_name[0] > '9'))
				continue;
			snprintf(path, sizeof(path), d ? "%s/%s/ns/net" : "%s/%s", dirs[d], e->d_name);
			if (netns_id(path, &dv, &iv) == 0 && dv == dev && iv == ino) {
				int fd = open(path, O_RDONLY | O_CLOEXEC);

				closedir(dir);
				return fd < 0 ? -errno : fd;
			}
		}
		closedir(dir);
	}
	return -ENOENT;
}

/* Is another live capture of the same namespace holding a logger binding? */
static bool binding_in_use(const struct capture_state *dead, int idx)
{
	DIR *dir = opendir(state_dir());
	struct dirent *e;
	bool used = false;

	if (!dir)
		return false;
	while (!used && (e = readdir(dir))) {
		struct capture_state st;
		char path[512];

		if (!strstr(e->d_name, ".state") || strstr(e->d_name, ".tmp"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", state_dir(), e->d_name);
		if (state_load(path, &st) < 0 || st.pid == dead->pid || !state_live(&st))
			continue;
		used = st.netns_ino == dead->netns_ino && st.netns_dev == dead->netns_dev &&
		       st.lb[idx].changed;
	}
	closedir(dir);
	return used;
}

/* Undo @st inside the current namespace. Returns 0 or -errno. */
static int undo_here(const struct capture_state *st)
{
	char err[256];
	int ret = 0;

	for (int f = 0; f < 2; f++) {
		int n;

		/* Never create a raw table just to look into it. */
		if (!st->legacy[f] || !legacy_table_exists(f ? AF_INET6 : AF_INET, "raw"))
			continue;
		n = legacy_remove_tagged(f ? AF_INET6 : AF_INET, st->tag, err, sizeof(err));
		if (n < 0) {
			diag_error("cleanup of %s: %s", st->tag, err);
			ret = n;
		} else if (n > 0) {
			diag_info("removed %d %s rule(s) tagged %s", n,
				  f ? "ip6tables" : "iptables", st->tag);
		}
	}
	for (int i = 0; i < 2; i++) {
		char cur[LOGBIND_NAME_MAX];

		if (!st->lb[i].changed || logbind_read(st->lb[i].pf, cur, sizeof(cur)) < 0)
			continue;
		/* Restore only what is still ours to restore. */
		if (strcmp(cur, "nfnetlink_log") != 0 || binding_in_use(st, i))
			continue;
		if (logbind_write(st->lb[i].pf, st->lb[i].saved) == 0)
			diag_info("restored nf_log/%d to %s", st->lb[i].pf, st->lb[i].saved);
		else
			ret = -EIO;
	}
	return ret;
}

int state_cleanup(bool only_here)
{
	DIR *dir = opendir(state_dir());
	struct dirent *e;
	uint64_t here_dev = 0, here_ino = 0;
	int self = -1, cleaned = 0, ret;

	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	ret = netns_id("/proc/self/ns/net", &here_dev, &here_ino);
	if (ret < 0)
		goto out;
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	while ((e = readdir(dir))) {
		struct capture_state st;
		char path[512];
		bool here;
		int fd;

		if (!strstr(e->d_name, ".state") || strstr(e->d_name, ".tmp"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", state_dir(), e->d_name);
		if (state_load(path, &st) < 0 || state_live(&st))
			continue;
		here = st.netns_dev == here_dev && st.netns_ino == here_ino;
		if (only_here && !here)
			continue;
		if (here) {
			if (undo_here(&st) == 0)
				unlink(path), cleaned++;
			continue;
		}
		fd = open_netns(st.netns_dev, st.netns_ino);
		if (fd < 0) {
			/* The namespace is gone, and its rules and bindings with it. */
			diag_info("%s: its network namespace is gone; nothing to undo", st.tag);
			unlink(path);
			cleaned++;
			continue;
		}
		if (setns(fd, CLONE_NEWNET) == 0) {
			if (undo_here(&st) == 0)
				unlink(path), cleaned++;
			if (self < 0 || setns(self, CLONE_NEWNET) < 0) {
				close(fd);
				ret = -errno;
				goto out;
			}
		}
		close(fd);
	}
	ret = cleaned;
out:
	if (self >= 0)
		close(self);
	closedir(dir);
	return ret;
}

int state_list(FILE *f)
{
	DIR *dir = opendir(state_dir());
	struct dirent *e;
	int n = 0;

	fprintf(f, "%-8s %-6s %-22s %-20s %s\n", "PID", "STATE", "NETNS", "MARKER", "SELECTION");
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(dir))) {
		struct capture_state st;
		char path[512], ns[32], marker[SINK_TEXT_NAME_MAX(sizeof(st.marker))];
		char desc[SINK_TEXT_NAME_MAX(sizeof(st.desc))];

		if (!strstr(e->d_name, ".state") || strstr(e->d_name, ".tmp"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", state_dir(), e->d_name);
		if (state_load(path, &st) < 0)
			continue;
		snprintf(ns, sizeof(ns), "net:[%llu]", (unsigned long long)st.netns_ino);
		/* A state file's words are shown escaped, as any name is (sink_text_escape()). */
		fprintf(f, "%-8d %-6s %-22s %-20s %s\n", (int)st.pid,
			state_live(&st) ? "live" : "stale", ns,
			sink_text_name(st.marker, marker, sizeof(marker)),
			sink_text_name(st.desc, desc, sizeof(desc)));
		n++;
	}
	closedir(dir);
	return n;
}
