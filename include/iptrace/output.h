/* SPDX-License-Identifier: GPL-2.0-or-later */
/* output.h: where the data goes (standard output or --output FILE) — opened safely, emptied only once the run starts, every failed write kept with its reason */
#ifndef IPTRACE_OUTPUT_H
#define IPTRACE_OUTPUT_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

/* Opaque. */
struct output;

/*
 * output_open - @path NULL or "-": standard output (fd 1, never closed). Otherwise the file,
 * created 0640 if missing, never through a symlink (O_NOFOLLOW) and not truncated yet:
 * output_start() empties an existing file once the run has really started, so a run that
 * fails to start leaves it as it was. An existing regular file that belongs to another
 * user is refused (a root run must not write into a file someone else controls). A FIFO
 * without a reader is waited for as long as it takes ("waiting for a reader" after a
 * second), but a signal (*@stop set; @waitmask unblocks it meanwhile, NULL: as now) ends
 * the wait: NULL with errno EINTR, nothing said. Otherwise says what went wrong on stderr
 * and returns NULL. Free with output_close().
 */
struct output *output_open(const char *path, const volatile sig_atomic_t *stop,
			   const sigset_t *waitmask);

/*
 * output_file - the stream to write to (borrowed until output_close()). Every write to
 * it goes through output.c, which keeps the first failure's errno (output_error()).
 */
FILE *output_file(const struct output *o);
/* output_fd - the descriptor written to (for isatty()). */
int output_fd(const struct output *o);

/*
 * output_start - the run has started: an existing regular file is emptied now (FIFOs,
 * devices and standard output are left as they are). Idempotent. 0 or negative errno.
 */
int output_start(struct output *o);

/*
 * output_error - flush, then 0 or the errno of the first write that failed (EPIPE: the
 * reader went away, a normal end).
 */
int output_error(struct output *o);

/*
 * output_say_error - once: "cannot write to 'FILE': reason" (or "to standard output") on
 * stderr when a write failed for another reason than EPIPE. Returns true when the output
 * failed that way (said now or before), false when all was written or the reader left.
 */
bool output_say_error(struct output *o);

/* output_close - flush, close (not standard output) and free; NULL is fine. */
void output_close(struct output *o);

#endif
