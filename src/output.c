/* SPDX-License-Identifier: GPL-2.0-or-later */
/* output.c: the data output — opened safely, emptied only once the run starts, every failed write kept with its reason */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "iptrace/diag.h"
#include "iptrace/loop.h"
#include "iptrace/output.h"

struct output {
	FILE		*f;
	int		fd;
	bool		is_stdout;
	bool		started;
	bool		said;		/* output_say_error() spoke */
	int		err;		/* the first failed write's errno, 0 if none */
	char		*path;		/* NULL for standard output */
};

/*
 * stdio's writes land here: the sinks check ferror() and fflush() at their own points, and
 * by then errno is long gone. Keeping the first failure's errno here gives every mode the
 * system's reason. After a failure nothing more is written (stdio sees a short write and
 * keeps its error flag).
 */
static ssize_t out_write(void *cookie, const char *buf, size_t size)
{
	struct output *o = cookie;
	size_t done = 0;

	if (o->err)
		return 0;
	/* Never into an old file's content: a write before output_start() starts it. */
	if (!o->started && output_start(o) < 0)
		return 0;
	while (done < size) {
		ssize_t n = write(o->fd, buf + done, size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			o->err = n < 0 ? errno : EIO;
			break;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static struct output *wrap(int fd, const char *path)
{
	static const cookie_io_functions_t io = { .write = out_write };
	struct output *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->fd = fd;
	o->is_stdout = !path;
	if (path && !(o->path = strdup(path)))
		goto err;
	o->f = fopencookie(o, "w", io);
	if (!o->f)
		goto err;
	/* As stdio does for a terminal: a person sees each line as it is written. */
	if (isatty(fd))
		setvbuf(o->f, NULL, _IOLBF, 0);
	return o;
err:
	free(o->path);
	free(o);
	return NULL;
}

/* A file being opened: a FIFO without a reader is waited for (loop_retry()). */
struct opening {
	const char	*path;
	int		fd;
};

/*
 * No O_TRUNC: emptied by output_start(), once there is something to write. O_NONBLOCK: a
 * FIFO nobody reads yet gives ENXIO at once instead of blocking in open().
 */
static int try_open(void *ctx)
{
	struct opening *op = ctx;

	op->fd = open(op->path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0640);
	if (op->fd >= 0)
		return 0;
	return errno == ENXIO ? -EAGAIN : -errno;
}

static void say_fifo(void *ctx)
{
	diag_info("waiting for a reader of FIFO '%s'", ((struct opening *)ctx)->path);
}

struct output *output_open(const char *path, const volatile sig_atomic_t *stop,
			   const sigset_t *waitmask)
{
	struct opening op = { .path = path, .fd = -1 };
	struct loop_retry r = {
		.attempt = try_open, .slow = say_fifo, .ctx = &op, .limit_s = -1,
		.stop = stop, .waitmask = waitmask,
	};
	struct output *o;
	struct stat st;
	int fd, fl, ret;

	if (!path || strcmp(path, "-") == 0) {
		o = wrap(STDOUT_FILENO, NULL);
		if (!o)
			diag_error("out of memory");
		return o;
	}
	ret = loop_retry(&r);
	if (ret == -EINTR) {
		errno = EINTR;		/* a signal ended the wait: nothing to say */
		return NULL;
	}
	if (ret < 0) {
		diag_error("cannot open '%s': %s", path, strerror(-ret));
		return NULL;
	}
	fd = op.fd;
	/* Writes block again: a slow reader slows the output down, it doesn't lose it. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 || fstat(fd, &st) < 0) {
		diag_error("cannot open '%s': %s", path, strerror(errno));
		goto err;
	}
	/*
	 * Someone else's file is not ours to fill: refused rather than replaced, so that
	 * nothing of theirs changes (a rename would need the directory and break their
	 * hard links and open descriptors). Checked on the descriptor itself: no race.
	 */
	if (S_ISREG(st.st_mode) && st.st_uid != geteuid()) {
		diag_error("refusing to write to '%s': it belongs to uid %u, not to us (remove it "
			   "or choose another name)", path, (unsigned)st.st_uid);
		goto err;
	}
	o = wrap(fd, path);
	if (o)
		return o;
	diag_error("out of memory");
err:
	close(fd);
	return NULL;
}

FILE *output_file(const struct output *o)
{
	return o->f;
}

int output_fd(const struct output *o)
{
	return o->fd;
}

int output_start(struct output *o)
{
	struct stat st;

	if (o->started)
		return 0;
	o->started = true;
	if (o->is_stdout)
		return 0;	/* the shell's redirection decided */
	if (fstat(o->fd, &st) < 0 || (S_ISREG(st.st_mode) && ftruncate(o->fd, 0) < 0)) {
		o->err = errno;
		return -errno;
	}
	return 0;
}

int output_error(struct output *o)
{
	fflush(o->f);
	return o->err ? o->err : ferror(o->f) ? EIO : 0;
}

bool output_say_error(struct output *o)
{
	int err = output_error(o);

	if (!err || err == EPIPE)
		return false;
	if (!o->said) {
		if (o->path)
			diag_error("cannot write to '%s': %s", o->path, strerror(err));
		else
			diag_error("cannot write to standard output: %s", strerror(err));
		o->said = true;
	}
	return true;
}

void output_close(struct output *o)
{
	if (!o)
		return;
	fclose(o->f);
	if (!o->is_stdout)
		close(o->fd);
	free(o->path);
	free(o);
}
