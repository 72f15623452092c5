/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_state.c: libFuzzer harness — state files of any content, owner and mode through --list and --cleanup */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include "iptrace/state.h"
#include "harness.h"

/*
 * The input: three bytes of set-up, then the file's contents.
 *   byte 0, bits 0-1, the state directory: 0700 and ours; group-writable; owned by nobody;
 *           a symbolic link to a good one.
 *   bits 2-3, the file: a regular file; a symbolic link to one (ours, 0600); a regular
 *           file with a second hard link; a FIFO.
 *   bit 4: the file is owned by nobody; bit 5: group-writable; bit 6: others-writable;
 *   bit 7: instead of the contents, state_save() writes the file from a capture_state
 *          whose marker and selection text are the contents (the round trip).
 *   byte 1, the file's name (PID is 2000000000 + byte 2: above any pid_max, never live):
 *           PID.state, 0PID.state, PID.state.tmp, PID.stat, OURPID.state (a live pid),
 *           x.state, PID.state, PID.state.
 * They go through the real paths: IPTRACE_STATE_DIR names a directory of this process,
 * state_list() reads it as --list does, state_cleanup() as a capture's start does.
 *
 * The oracle is the trust rule of state.h, checked from outside: a directory that is not
 * ours and private, or is a link, is refused as a whole (-EPERM); a file is listed only if
 * it is a regular file, ours, written by nobody else, with one link, named PID.state in
 * canonical digits, at most 8 KiB, its last pid= line PID and its last tag= line
 * iptrace:PID, its nf_log/2 and nf_log/10 lines plain words; anything refused is counted
 * and left alone by --cleanup; and what state_save() writes is always accepted, one line
 * per field. --cleanup runs (as root) in a network namespace of this process's own, so
 * whatever a file names, it undoes nothing of the host's.
 */

#define BASE_PID	2000000000
#define STATE_MAX	8192	/* state.c's bound on a file */

static char base[64], dirpath[96], realdir[96], target[96], hardlink[96];
static bool as_root, private_netns;

static void rm_dir(const char *path)
{
	char p[256];
	DIR *d = opendir(path);
	struct dirent *e;

	if (d) {
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
				unlink(p);
			}
		closedir(d);
	}
	if (rmdir(path) < 0 && errno == ENOTDIR)
		unlink(path);
}

static void clear(void)
{
	struct stat st;

	if (lstat(dirpath, &st) == 0 && S_ISLNK(st.st_mode))
		unlink(dirpath);
	else
		rm_dir(dirpath);
	rm_dir(realdir);
	unlink(target);
	unlink(hardlink);
}

static void remove_all(void)
{
	clear();
	rmdir(base);
}

static void setup(void)
{
	if (base[0])
		return;
	fuzz_tmpdir("fuzz_state", base, sizeof(base));
	snprintf(dirpath, sizeof(dirpath), "%s/run", base);
	snprintf(realdir, sizeof(realdir), "%s/real", base);
	snprintf(target, sizeof(target), "%s/target", base);
	snprintf(hardlink, sizeof(hardlink), "%s/hardlink", base);
	atexit(remove_all);
	setenv("IPTRACE_STATE_DIR", dirpath, 1);
	umask(022);
	as_root = geteuid() == 0;
	/* --cleanup acts on the namespace a file names only if it is this one: make it ours. */
	private_netns = as_root && unshare(CLONE_NEWNET) == 0;
	if (!private_netns)
		fprintf(stderr, "fuzz_state: no private network namespace (not root?): "
			"--cleanup is not run\n");
}

static void must(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_state: cannot set up %s: %s\n", what, strerror(errno));
		abort();
	}
}

/* A line of @text (up to its NUL) whose key is @key: the last one's value, or NULL. */
static FUZZ_ORACLE const char *last_value(const char *text, const char *key, size_t *len)
{
	const char *found = NULL, *p = text;
	size_t klen = strlen(key);

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (l > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
			found = p + klen + 1;
			*len = l - klen - 1;
		}
		p += l + (nl != NULL);
	}
	return found;
}

static FUZZ_ORACLE bool value_is(const char *v, size_t len, const char *want)
{
	return v && len == strlen(want) && memcmp(v, want, len) == 0;
}

/* What a listed file must say (its text up to the first NUL, as the loader reads it). */
static FUZZ_ORACLE bool content_trusted(const char *text, pid_t pid)
{
	char tag[32], num[16];
	const char *v;
	size_t len;

	snprintf(tag, sizeof(tag), "iptrace:%d", (int)pid);
	snprintf(num, sizeof(num), "%d", (int)pid);
	v = last_value(text, "tag", &len);
	if (!value_is(v, len, tag))
		return false;
	/* The pid as a decimal number: leading zeros are still that number. */
	v = last_value(text, "pid", &len);
	while (v && len > 1 && *v == '0')
		v++, len--;
	if (!value_is(v, len, num))
		return false;
	for (int i = 0; i < 2; i++) {
		v = last_value(text, i ? "nf_log/10" : "nf_log/2", &len);
		if (v && (len == 0 || len >= LOGBIND_NAME_MAX ||
			  strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
			  < len))
			return false;
	}
	return true;
}

/* Write the state file as the set-up byte says. Returns whether its form is trusted. */
static bool make_file(const char *path, uint8_t how, const char *text, size_t len)
{
	const uid_t owner = how & 16 && as_root ? 65534 : geteuid();
	const mode_t mode = 0600 | (how & 32 ? 020 : 0) | (how & 64 ? 002 : 0);
	const char *file = (how >> 2 & 3) == 1 ? target : path;
	int fd;

	if ((how >> 2 & 3) == 3) {
		must(mkfifo(path, mode) == 0 && chmod(path, mode) == 0 &&
		     chown(path, owner, (gid_t)-1) == 0, "a FIFO");
		return false;
	}
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	must(fd >= 0 && write(fd, text, len) == (ssize_t)len && fchmod(fd, mode) == 0 &&
	     fchown(fd, owner, (gid_t)-1) == 0 && close(fd) == 0, "the file");
	if ((how >> 2 & 3) == 1)
		must(symlink(target, path) == 0, "a link to the file");
	if ((how >> 2 & 3) == 2)
		must(link(path, hardlink) == 0, "a hard link");
	return (how >> 2 & 3) == 0 && owner == geteuid() && !(mode & 022) && len <= STATE_MAX;
}

/* The round trip: state_save() of a capture whose texts come from the input. */
static void save_state(pid_t pid, const char *text, size_t len)
{
	struct capture_state st;
	int fd;

	memset(&st, 0, sizeof(st));
	st.pid = pid;
	st.starttime = 12345;
	st.netns_ino = 4026531840u;
	st.netns_cookie = 1;	/* not this namespace's: --cleanup leaves it alone */
	snprintf(st.tag, sizeof(st.tag), "iptrace:%d", (int)pid);
	snprintf(st.marker, sizeof(st.marker), "%.*s", (int)(len < 15 ? len : 15), text);
	if (len > 15)
		snprintf(st.desc, sizeof(st.desc), "%.*s", (int)(len - 15), text + 15);
	st.lb[1].pf = 10;
	st.lb[1].changed = true;
	snprintf(st.lb[1].saved, sizeof(st.lb[1].saved), "NONE");
	fd = state_save(&st);
	if (fd < 0)
		abort();
	close(fd);	/* the capture's end: its lock goes */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const forms[] = {
		"%d.state", "0%d.state", "%d.state.tmp", "%d.stat", "%d.state", "x.state",
		"%d.state", "%d.state",
	};
	uint8_t how, form;
	pid_t pid;
	char name[64], path[256], *text, *out = NULL;
	size_t len, outlen = 0;
	bool dir_ok, trusted, good_name, exists;
	struct state_tally t;
	struct stat st;
	FILE *f, *err;
	int ret;

	if (size < 3 || size > 2 * STATE_MAX)
		return -1;
	setup();
	clear();
	how = data[0];
	form = data[1] & 7;
	pid = form == 4 ? getpid() : BASE_PID + data[2];
	len = size - 3;
	text = malloc(len + 1);
	if (!text)
		abort();
	memcpy(text, data + 3, len);
	text[len] = '\0';
	snprintf(name, sizeof(name), forms[form], (int)pid);

	/* The directory. */
	switch (how & 3) {
	case 0:
	case 1:
		must(mkdir(dirpath, 0700) == 0 && chmod(dirpath, how & 1 ? 0770 : 0700) == 0,
		     "the directory");
		break;
	case 2:
		must(mkdir(dirpath, 0700) == 0 &&
		     chown(dirpath, as_root ? 65534 : geteuid(), (gid_t)-1) == 0, "the directory");
		break;
	case 3:
		must(mkdir(realdir, 0700) == 0 && symlink(realdir, dirpath) == 0,
		     "the directory link");
		break;
	}
	dir_ok = (how & 3) == 0 || ((how & 3) == 2 && !as_root);
	good_name = form == 0 || form == 4 || form >= 6;
	snprintf(path, sizeof(path), "%s/%s", (how & 3) == 3 ? realdir : dirpath, name);
	if (how & 128 && dir_ok && good_name) {
		save_state(pid, text, len);
		trusted = true;
	} else {
		trusted = make_file(path, how, text, len) && content_trusted(text, pid);
	}

	/* --list: diagnostics (refusals) to /dev/null, as fuzz_ct does with natlog's. */
	f = open_memstream(&out, &outlen);
	if (!f)
		abort();
	err = stderr;
	stderr = fuzz_null();
	ret = state_list(f, &t);
	stderr = err;
	if (fclose(f) != 0)
		abort();
	if (!dir_ok) {
		if (ret != -EPERM)
			goto bad;
		goto out;	/* refused as a whole: nothing read, nothing to clean */
	}
	if (ret < 0 || ret > 1 || t.refused > 1)
		goto bad;
	if (!good_name) {
		if (ret != 0 || t.refused)	/* not ours: not read at all */
			goto bad;
	} else if (!trusted) {
		if (ret != 0 || t.refused != 1)
			goto bad;
	} else if (how & 128) {
		if (ret != 1)	/* what state_save() wrote is always taken back */
			goto bad;
	} else if (ret != 1 && t.refused != 1) {
		goto bad;	/* trusted as far as checked here: listed, or refused for more */
	}
	if (ret == 1) {
		/* The row names the file's pid, stale unless it is this live process. */
		char row[32];

		snprintf(row, sizeof(row), "\n%-8d %-6s ", (int)pid, "stale");
		if (form != 4 && !strstr(out, row))
			goto bad;
	}
	if (how & 128 && dir_ok && good_name) {
		/* state_save(): one line per field, as the loader splits them. */
		char *saved = NULL;
		size_t n = 0, lines = 0;
		FILE *in = fopen(path, "re");

		if (!in || getdelim(&saved, &n, '\0', in) < 0)
			abort();
		fclose(in);
		for (char *p = saved; *p; p++)
			lines += *p == '\n';
		free(saved);
		if (lines != 10) {
			fprintf(stderr, "state_save() wrote %zu lines for 10 fields\n", lines);
			goto bad;
		}
	}

	/* --cleanup at a start: what it refused stays; what it removed was trusted. */
	if (private_netns) {
		err = stderr;
		stderr = fuzz_null();
		ret = state_cleanup(true, NULL, &t);
		stderr = err;
		exists = lstat(path, &st) == 0;
		if (ret != 0 || (t.cleaned && (!trusted || !good_name || exists)) ||
		    (!trusted && good_name && (!exists || t.refused != 1)))
			goto bad;
	}
out:
	free(out);
	free(text);
	return 0;
bad:
	fprintf(stderr, "state file %s (set-up %#x, dir %s, %s): list %d, refused %d, "
		"cleaned %d; listed:\n%s", name, how, dir_ok ? "trusted" : "refused",
		trusted ? "trusted" : "refused", ret, t.refused, t.cleaned, out ? out : "");
	abort();
}
