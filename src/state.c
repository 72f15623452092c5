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
#include <sys/socket.h>
#include <sys/stat.h>

#include "iptrace/diag.h"
#include "iptrace/marker.h"
#include "iptrace/selector.h"
#include "iptrace/sink.h"
#include "iptrace/state.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71	/* asm-generic/socket.h, Linux 5.14 */
#endif

/* A state file is a few hundred bytes: anything much longer was not written by us. */
#define STATE_MAX 8192

const char *state_dir(void)
{
	const char *d = getenv("IPTRACE_STATE_DIR");

	return d && *d ? d : STATE_DIR_DEFAULT;
}

/* /proc/PID/stat: field 3 (state) and field 22 (start time). 0, or -errno when no such pid. */
static int proc_stat(pid_t pid, uint64_t *starttime, char *state)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: count fields after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -ESRCH;
	*state = p[2];
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%llu", &v);
	*starttime = v;
	return 0;
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

/*
 * The current network namespace's cookie, from a socket opened in it: unique for the boot,
 * never reused (unlike the nsfs inode). 0 when the kernel has none (before 5.14).
 */
static int netns_cookie(uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	*cookie = 0;
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len) < 0) {
		*cookie = 0;
		ret = errno == ENOPROTOOPT ? 0 : -errno;
	}
	close(fd);
	return ret;
}

int state_init(struct capture_state *st, const char *tag)
{
	char state;
	int ret;

	memset(st, 0, sizeof(*st));
	st->pid = getpid();
	if (proc_stat(st->pid, &st->starttime, &state) < 0)
		st->starttime = 0;
	snprintf(st->tag, sizeof(st->tag), "%s", tag);
	ret = netns_id("/proc/self/ns/net", &st->netns_dev, &st->netns_ino);
	return ret < 0 ? ret : netns_cookie(&st->netns_cookie);
}

/*
 * Open the state directory without following a link, and refuse it unless root (or we)
 * own it and nobody else may write in it: whoever can, can make us undo what they like.
 * Returns the fd, -EPERM (said), -ENOENT (missing, not @create), or another -errno.
 */
static int dir_open(bool create)
{
	const char *path = state_dir();
	const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	struct stat st;
	int fd = open(path, flags);

	if (fd < 0 && errno == ENOENT && create) {
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		fd = open(path, flags);
	}
	if (fd < 0) {
		int ret = -errno;

		if ((ret == -ELOOP || ret == -ENOTDIR) && lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
			diag_error("refusing the state directory '%s': it is a symbolic link", path);
			return -EPERM;
		}
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		diag_error("refusing the state directory '%s': owned by uid %u, not root",
			   path, (unsigned)st.st_uid);
		close(fd);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		diag_error("refusing the state directory '%s': writable by group or others "
			   "(mode %04o; chmod go-w)", path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	return fd;
}

int state_check_dir(void)
{
	int fd = dir_open(true);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* "1234.state": 1 with *@pid; 0 with *@pid for our own temporary "1234.state.tmp"; -1 for any
 * other. */
static int name_pid(const char *name, pid_t *pid)
{
	size_t digits = strspn(name, "0123456789");
	uint64_t v;
	char num[16];
	int kind;

	if (digits == 0 || digits > 10 || name[0] == '0')
		return -1;
	if (strcmp(name + digits, ".state.tmp") == 0)
		kind = 0;
	else if (strcmp(name + digits, ".state") == 0)
		kind = 1;
	else
		return -1;
	memcpy(num, name, digits);
	num[digits] = '\0';
	if (parse_uint(num, 10, 1, 0x7fffffff, &v) < 0)
		return -1;
	*pid = (pid_t)v;
	return kind;
}

static void name_of(pid_t pid, char *buf, size_t size)
{
	snprintf(buf, size, "%d.state", (int)pid);
}

/*
 * A text field on its own line: a newline in it (the selection names --iface's argument,
 * any bytes) would start a line of its own, which the loader reads as a field.
 */
static void put_text(FILE *f, const char *key, const char *val)
{
	fprintf(f, "%s=", key);
	for (; *val; val++)
		fputc(*val == '\n' ? ' ' : *val, f);
	fputc('\n', f);
}

/* Lock @fd's whole file for writing (F_SETLK: a new file, nobody else has it). */
static int lock_file(int fd)
{
	struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	return fcntl(fd, F_SETLK, &l) < 0 ? -errno : 0;
}

/* Whether another process holds a lock on @fd's file. */
static bool file_locked(int fd)
{
	struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	return fcntl(fd, F_GETLK, &l) == 0 && l.l_type != F_UNLCK;
}

int state_save(const struct capture_state *st)
{
	char name[32], tmp[40], *text = NULL;
	size_t len = 0, done = 0;
	FILE *f;
	int dfd, fd, ret = 0;

	dfd = dir_open(true);
	if (dfd < 0)
		return dfd;
	name_of(st->pid, name, sizeof(name));
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	/* Locked before it has its name: a cleaner never sees the file unlocked while we run. */
	ret = lock_file(fd);
	if (ret < 0)
		goto out_unlink;
	/* Composed apart: closing any fd of the file (a stream's) would drop the lock. */
	f = open_memstream(&text, &len);
	if (!f) {
		ret = -errno;
		goto out_unlink;
	}
	fprintf(f, "pid=%d\nstarttime=%llu\nnetns=%llu:%llu\nnetns_cookie=%llu\n",
		(int)st->pid, (unsigned long long)st->starttime, (unsigned long long)st->netns_dev,
		(unsigned long long)st->netns_ino, (unsigned long long)st->netns_cookie);
	put_text(f, "tag", st->tag);
	fprintf(f, "legacy4=%d\nlegacy6=%d\n", st->legacy[0], st->legacy[1]);
	put_text(f, "marker", st->marker);
	put_text(f, "desc", st->desc);
	for (int i = 0; i < 2; i++)
		if (st->lb[i].changed)
			fprintf(f, "nf_log/%d=%s\n", st->lb[i].pf, st->lb[i].saved);
	if (fclose(f) == EOF) {
		ret = -ENOMEM;
		goto out_unlink;
	}
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			goto out_unlink;
		}
		done += (size_t)n;
	}
	if (renameat(dfd, tmp, dfd, name) < 0)
		ret = -errno;
out_unlink:
	if (ret) {
		unlinkat(dfd, tmp, 0);
		close(fd);
	}
out:
	free(text);
	close(dfd);
	return ret ? ret : fd;
}

/*
 * Whether the file @name of @dfd is locked: its writer runs, maybe in another PID namespace.
 * Closes a descriptor of the file: never ask of a file we lock ourselves.
 */
static bool name_locked(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	bool locked;

	if (fd < 0)
		return false;
	locked = file_locked(fd);
	close(fd);
	return locked;
}

bool state_taken(pid_t pid)
{
	char name[32];
	int dfd = dir_open(false);
	bool taken;

	if (dfd < 0)
		return false;
	name_of(pid, name, sizeof(name));
	taken = name_locked(dfd, name);
	close(dfd);
	return taken;
}

void state_remove(const struct capture_state *st)
{
	char name[32];
	int dfd = dir_open(false);

	if (dfd < 0)
		return;
	name_of(st->pid, name, sizeof(name));
	unlinkat(dfd, name, 0);
	close(dfd);
}

/* A logger name as the kernel prints them: a plain word ("nf_log_ipv4", "NONE"). */
static bool logger_word(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");

	return n > 0 && n < LOGBIND_NAME_MAX && !s[n];
}

/* Parse the text of the file named for @pid. 0, or -EPERM with @why. */
static int parse(char *text, pid_t pid, struct capture_state *st, char *why, size_t whylen)
{
	char want[64], *line, *save;
	uint64_t v;

	memset(st, 0, sizeof(*st));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *val = strchr(line, '=');
		unsigned long long a, b;
		int pf, used;

		if (!val)
			continue;
		*val++ = '\0';
		if (strcmp(line, "pid") == 0) {
			if (parse_uint(val, 10, 1, 0x7fffffff, &v) < 0)
				goto bad;
			st->pid = (pid_t)v;
		} else if (strcmp(line, "starttime") == 0) {
			if (parse_uint(val, 10, 0, UINT64_MAX, &st->starttime) < 0)
				goto bad;
		} else if (strcmp(line, "netns") == 0) {
			if (sscanf(val, "%llu:%llu%n", &a, &b, &used) != 2 || val[used])
				goto bad;
			st->netns_dev = a;
			st->netns_ino = b;
		} else if (strcmp(line, "netns_cookie") == 0) {
			if (parse_uint(val, 10, 0, UINT64_MAX, &st->netns_cookie) < 0)
				goto bad;
		} else if (strcmp(line, "tag") == 0) {
			snprintf(st->tag, sizeof(st->tag), "%s", val);
		} else if (strcmp(line, "legacy4") == 0 || strcmp(line, "legacy6") == 0) {
			if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
				goto bad;
			st->legacy[line[6] == '6'] = val[0] == '1';
		} else if (strcmp(line, "marker") == 0) {
			snprintf(st->marker, sizeof(st->marker), "%s", val);
		} else if (strcmp(line, "desc") == 0) {
			snprintf(st->desc, sizeof(st->desc), "%s", val);
		} else if (sscanf(line, "nf_log/%d%n", &pf, &used) == 1 && !line[used] &&
			   (pf == 2 || pf == 10)) {
			struct logbind *lb = &st->lb[pf == 2 ? 0 : 1];

			if (!logger_word(val)) {
				snprintf(why, whylen, "nf_log/%d's saved logger is not a logger's name", pf);
				return -EPERM;
			}
			lb->pf = pf;
			lb->changed = true;
			lb->fd = -1;	/* restored by path (logbind_write), never by this */
			snprintf(lb->saved, sizeof(lb->saved), "%s", val);
		}
	}
	/* Only the tag this very file's capture used is ever used to delete rules. */
	snprintf(want, sizeof(want), "iptrace:%d", (int)pid);
	if (st->pid != pid) {
		snprintf(why, whylen, "its pid is not %d, as its name says", (int)pid);
		return -EPERM;
	}
	if (strcmp(st->tag, want) != 0) {
		snprintf(why, whylen, "its tag is not %s, its own pid's", want);
		return -EPERM;
	}
	return 0;
bad:
	snprintf(why, whylen, "its %s line is not one iptrace writes", line);
	return -EPERM;
}

/*
 * Load the file @name (pid @pid) of the directory @dfd: opened without following a link,
 * then checked on what was opened (fstat): a regular file, owned by root or us, written by
 * nobody else. 0; -EPERM with @why; another -errno (gone meanwhile: -ENOENT).
 */
static int load(int dfd, const char *name, pid_t pid, struct capture_state *st, char *why,
		size_t whylen)
{
	char *text = malloc(STATE_MAX + 1);
	size_t len = 0;
	struct stat sb;
	FILE *f = NULL;
	bool locked = false;
	int fd, ret = 0;

	if (!text)
		return -ENOMEM;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ELOOP) {
			snprintf(why, whylen, "it is a symbolic link");
			ret = -EPERM;
		}
		goto out;
	}
	if (fstat(fd, &sb) < 0) {
		ret = -errno;
		goto out;
	}
	ret = -EPERM;
	if (!S_ISREG(sb.st_mode))
		snprintf(why, whylen, "not a regular file");
	else if (sb.st_uid != 0 && sb.st_uid != geteuid())
		snprintf(why, whylen, "owned by uid %u, not root", (unsigned)sb.st_uid);
	else if (sb.st_mode & (S_IWGRP | S_IWOTH))
		snprintf(why, whylen, "writable by group or others (mode %04o)",
			 (unsigned)(sb.st_mode & 07777));
	else if (sb.st_nlink != 1)
		snprintf(why, whylen, "it has %lu links", (unsigned long)sb.st_nlink);
	else
		ret = 0;
	if (ret == 0 && !(f = fdopen(fd, "r")))
		ret = -errno;
	if (f) {
		fd = -1;	/* the stream's now */
		len = fread(text, 1, STATE_MAX + 1, f);
		if (ferror(f))
			ret = -EIO;
		locked = file_locked(fileno(f));
		fclose(f);
	}
	if (ret == 0 && len > STATE_MAX) {
		snprintf(why, whylen, "longer than a state file is");
		ret = -EPERM;
	}
	if (ret == 0) {
		text[len] = '\0';
		ret = parse(text, pid, st, why, whylen);
		st->locked = locked;
	}
out:
	if (fd >= 0)
		close(fd);
	free(text);
	return ret;
}

/* @pid runs (its start time in *@starttime, if asked). */
static bool running(pid_t pid, uint64_t *starttime)
{
	uint64_t now;
	char state;

	if (proc_stat(pid, &now, &state) < 0 || now == 0)
		return false;
	if (starttime)
		*starttime = now;
	/* A zombie (or a task on its way out) holds nothing: its sockets and files are closed. */
	return state != 'Z' && state != 'X' && state != 'x';
}

bool state_live(const struct capture_state *st)
{
	uint64_t now;

	if (st->locked)
		return true;
	return running(st->pid, &now) && (st->starttime == 0 || now == st->starttime);
}

/* Walking the directory: its fd, and at which level to say what is refused (0: not). */
struct walk {
	int	dfd;
	DIR	*dir;
	int	level;	/* enum diag_level, or 0 */
	bool	sweep;	/* remove the temporary files of writers that are gone */
	int	refused;
};

static int walk_start(struct walk *w, int dfd, int level)
{
	int fd = dup(dfd);

	memset(w, 0, sizeof(*w));
	w->dfd = dfd;
	w->level = level;
	w->dir = fd < 0 ? NULL : fdopendir(fd);
	if (!w->dir) {
		int ret = -errno;

		if (fd >= 0)
			close(fd);
		return ret;
	}
	return 0;
}

/* The next trusted state file into @st (its name in @name): true; false at the end. */
static bool walk_next(struct walk *w, struct capture_state *st, char *name, size_t size)
{
	struct dirent *e;

	while ((e = readdir(w->dir))) {
		char why[128];
		pid_t pid;
		int ret, kind;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		kind = name_pid(e->d_name, &pid);
		if (kind == 0) {
			/* A SIGKILL between state_save()'s write and its rename leaves the file. */
			if (w->sweep && !running(pid, NULL) && !name_locked(w->dfd, e->d_name))
				unlinkat(w->dfd, e->d_name, 0);
			continue;
		}
		if (kind < 0) {
			if (w->level)
				diag_note("ignoring '%s' in %s: iptrace names its state files PID.state",
					  e->d_name, state_dir());
			continue;
		}
		ret = load(w->dfd, e->d_name, pid, st, why, sizeof(why));
		if (ret == -EPERM) {
			w->refused++;
			if (w->level)
				diag((enum diag_level)w->level, "refusing %s/%s: %s", state_dir(),
				     e->d_name, why);
			continue;
		}
		if (ret < 0)
			continue;	/* removed meanwhile: its capture ended */
		snprintf(name, size, "%s", e->d_name);
		return true;
	}
	return false;
}

static void walk_end(struct walk *w)
{
	if (w->dir)
		closedir(w->dir);
	w->dir = NULL;
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

static bool same_netns(const struct capture_state *a, const struct capture_state *b)
{
	if (a->netns_cookie && b->netns_cookie)
		return a->netns_cookie == b->netns_cookie;
	return a->netns_ino == b->netns_ino && a->netns_dev == b->netns_dev;
}

/* The live capture of @dead's namespace that holds a logger binding too, or 0. */
static pid_t binding_user(int dfd, const struct capture_state *dead, int idx)
{
	struct capture_state st;
	struct walk w;
	char name[256];
	pid_t user = 0;

	if (walk_start(&w, dfd, 0) < 0)
		return 0;
	while (!user && walk_next(&w, &st, name, sizeof(name)))
		if (st.pid != dead->pid && state_live(&st) && same_netns(&st, dead) &&
		    st.lb[idx].changed)
			user = st.pid;
	walk_end(&w);
	return user;
}

/*
 * Undo @st inside the current namespace, which is its own. Everything is checked before
 * anything is changed; each thing left alone is said with its reason. Returns 0 (the file
 * may go) or -errno (it stays).
 */
static int undo_here(int dfd, const struct capture_state *st, struct xtlock *lock)
{
	char err[256], known[256];
	int ret = 0;

	for (int i = 0; i < 2; i++) {
		if (st->lb[i].changed && !logbind_known(st->lb[i].pf, st->lb[i].saved, known,
							sizeof(known))) {
			diag_error("%s: refusing to write '%s' to nf_log/%d: not a logger this kernel "
				   "knows (%s); nothing undone", st->tag, st->lb[i].saved,
				   st->lb[i].pf, known);
			return -EINVAL;
		}
	}
	for (int f = 0; f < 2; f++) {
		const char *cmd = f ? "ip6tables" : "iptables";
		int n;

		if (!st->legacy[f])
			continue;
		/* Never create a raw table just to look into it (none: no rules of ours either). */
		if (!legacy_table_exists(f ? AF_INET6 : AF_INET, "raw"))
			continue;
		n = legacy_remove_tagged(f ? AF_INET6 : AF_INET, st->tag, lock, err, sizeof(err));
		if (n == -EINTR)
			return n;
		if (n < 0) {
			diag_error("cleanup of %s: %s", st->tag, err);
			ret = n;
		} else if (n == 0) {
			diag_info("%s: no %s rules tagged %s: nothing to remove", st->tag, cmd, st->tag);
		} else {
			diag_info("removed %d %s rule(s) tagged %s", n, cmd, st->tag);
		}
	}
	for (int i = 0; i < 2; i++) {
		const struct logbind *lb = &st->lb[i];
		char cur[LOGBIND_NAME_MAX];
		pid_t user;

		if (!lb->changed)
			continue;
		/* Rules left report through it: restored alone, they would fill the kernel log. */
		if (ret < 0) {
			diag_info("%s: nf_log/%d stays bound to nfnetlink_log while the rules are in",
				  st->tag, lb->pf);
			continue;
		}
		if (logbind_read(lb->pf, cur, sizeof(cur)) < 0) {
			diag_info("%s: nf_log/%d can't be read: not restored", st->tag, lb->pf);
			continue;
		}
		/* Restore only what is still as the capture left it, and no one else relies on. */
		if (strcmp(cur, "nfnetlink_log") != 0) {
			diag_info("%s: nf_log/%d holds %s, not nfnetlink_log as the capture left it: "
				  "not restored to %s", st->tag, lb->pf, cur, lb->saved);
			continue;
		}
		user = binding_user(dfd, st, i);
		if (user) {
			diag_info("%s: nf_log/%d is in use by the live capture iptrace:%d: not restored",
				  st->tag, lb->pf, (int)user);
			continue;
		}
		if (logbind_write(lb->pf, lb->saved) == 0) {
			diag_info("restored nf_log/%d to %s", lb->pf, lb->saved);
		} else {
			diag_error("%s: cannot restore nf_log/%d to %s", st->tag, lb->pf, lb->saved);
			ret = -EIO;
		}
	}
	return ret;
}

/* Clean @st (file @name) where it ran, if that namespace is still there. 0, or -errno. */
static int clean_one(int dfd, const struct capture_state *st, const char *name,
		     const struct capture_state *here, bool only_here, int self,
		     struct xtlock *lock, struct state_tally *t)
{
	uint64_t cookie;
	int fd, ret;

	if (here->netns_cookie && !st->netns_cookie) {
		if (only_here && (st->netns_ino != here->netns_ino || st->netns_dev != here->netns_dev))
			return 0;
		/* Its namespace can't be told from one that got its inode number since. */
		diag(only_here ? DIAG_WARNING : DIAG_ERROR, "%s: no namespace cookie recorded (an "
		     "older iptrace?): not acted on; check by hand, then remove %s/%s", st->tag,
		     state_dir(), name);
		t->failed++;
		return 0;
	}
	if (same_netns(st, here)) {
		ret = undo_here(dfd, st, lock);
		goto done;
	}
	if (only_here)
		return 0;
	fd = open_netns(st->netns_dev, st->netns_ino);
	if (fd < 0) {
		diag_info("%s: its network namespace is gone; nothing to undo", st->tag);
		ret = 0;
		goto done;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		ret = -errno;
		close(fd);
		diag_error("%s: cannot enter its network namespace: %s", st->tag, strerror(-ret));
		goto done;
	}
	close(fd);
	ret = netns_cookie(&cookie);
	if (ret == 0 && cookie != st->netns_cookie) {
		diag_info("%s: net:[%llu] is another namespace now (its cookie differs: the inode "
			  "number was reused); the capture's namespace is gone, nothing to undo",
			  st->tag, (unsigned long long)st->netns_ino);
	} else if (ret == 0) {
		ret = undo_here(dfd, st, lock);
	}
	if (setns(self, CLONE_NEWNET) < 0)
		return -errno;	/* can't go back: stop here */
done:
	if (ret == -EINTR)
		return ret;
	if (ret < 0) {
		t->failed++;
		return 0;
	}
	unlinkat(dfd, name, 0);
	t->cleaned++;
	return 0;
}

int state_cleanup(bool only_here, struct xtlock *lock, struct state_tally *t)
{
	struct capture_state here, st;
	struct walk w;
	char name[256];
	int dfd, self = -1, ret;

	memset(t, 0, sizeof(*t));
	dfd = dir_open(false);
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	ret = state_init(&here, "");
	if (ret < 0)
		goto out;
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		ret = -errno;
		goto out;
	}
	/* At a capture's start, what is refused is only warned about: the capture goes on. */
	ret = walk_start(&w, dfd, only_here ? DIAG_WARNING : DIAG_ERROR);
	if (ret < 0)
		goto out;
	w.sweep = true;
	while (ret == 0 && walk_next(&w, &st, name, sizeof(name)))
		if (!state_live(&st))
			ret = clean_one(dfd, &st, name, &here, only_here, self, lock, t);
	t->refused = w.refused;
	walk_end(&w);
out:
	if (self >= 0)
		close(self);
	close(dfd);
	return ret;
}

int state_list(FILE *f, struct state_tally *t)
{
	struct capture_state st;
	struct walk w;
	char name[256];
	int dfd, n = 0, ret;

	memset(t, 0, sizeof(*t));
	/* The header once the directory is known readable: a failed list prints no table. */
	dfd = dir_open(false);
	if (dfd < 0 && dfd != -ENOENT)
		return dfd;
	fprintf(f, "%-8s %-6s %-22s %-20s %s\n", "PID", "STATE", "NETNS", "MARKER", "SELECTION");
	if (dfd < 0)
		return 0;
	ret = walk_start(&w, dfd, DIAG_ERROR);
	if (ret < 0) {
		close(dfd);
		return ret;
	}
	while (walk_next(&w, &st, name, sizeof(name))) {
		char ns[32], marker[SINK_TEXT_NAME_MAX(sizeof(st.marker))];
		char desc[SINK_TEXT_NAME_MAX(sizeof(st.desc))];

		snprintf(ns, sizeof(ns), "net:[%llu]", (unsigned long long)st.netns_ino);
		/* A state file's words are shown escaped, as any name is (sink_text_escape()). */
		fprintf(f, "%-8d %-6s %-22s %-20s %s\n", (int)st.pid,
			state_live(&st) ? "live" : "stale", ns,
			sink_text_name(st.marker, marker, sizeof(marker)),
			sink_text_name(st.desc, desc, sizeof(desc)));
		n++;
	}
	t->refused = w.refused;
	walk_end(&w);
	close(dfd);
	return n;
}
