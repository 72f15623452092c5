/* SPDX-License-Identifier: GPL-2.0-or-later */
/* udpgen.c: the benchmark's traffic generator — N UDP datagrams at a fixed rate or flat out */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define BATCH_MAX 64

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(void)
{
	fputs("usage: udpgen -d ADDR -p PORT -n COUNT [-r RATE] [-s BYTES]\n"
	      "  RATE packets per second, 0 (default) for as fast as one sender can;\n"
	      "  every payload carries its sequence number, so no two packets look alike.\n",
	      stderr);
	exit(2);
}

static unsigned long num(const char *s)
{
	char *e;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &e, 10);
	if (errno || *e || e == s)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	static char payload[BATCH_MAX][1472];
	struct mmsghdr msgs[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	unsigned long count = 0, rate = 0, size = 32, sent = 0, errors = 0;
	uint64_t start, end;
	int opt, fd;

	while ((opt = getopt(argc, argv, "d:p:n:r:s:")) != -1) {
		switch (opt) {
		case 'd':
			if (inet_pton(AF_INET, optarg, &dst.sin_addr) != 1)
				usage();
			break;
		case 'p': dst.sin_port = htons((uint16_t)num(optarg)); break;
		case 'n': count = num(optarg); break;
		case 'r': rate = num(optarg); break;
		case 's': size = num(optarg); break;
		default: usage();
		}
	}
	if (!count || !dst.sin_port || !dst.sin_addr.s_addr || size < 8 || size > 1472)
		usage();
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		perror("udpgen: socket");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH_MAX; i++) {
		iov[i].iov_base = payload[i];
		iov[i].iov_len = size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	/* Paced runs send small batches on a fixed schedule: about 2000 batches a second. */
	unsigned long batch = rate ? rate / 2000 : BATCH_MAX;
	if (batch < 1)
		batch = 1;
	if (batch > BATCH_MAX)
		batch = BATCH_MAX;
	start = now_ns();
	while (sent < count) {
		unsigned long n = count - sent < batch ? count - sent : batch;
		int r;

		if (rate) {
			uint64_t due = start + (uint64_t)((double)sent * 1e9 / (double)rate);
			uint64_t t = now_ns();

			if (due > t) {
				struct timespec ts = { .tv_sec = (time_t)(due / 1000000000ull),
						       .tv_nsec = (long)(due % 1000000000ull) };

				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			}
		}
		for (unsigned long i = 0; i < n; i++) {
			uint64_t seq = sent + i;

			memset(payload[i], 'x', size);
			memcpy(payload[i], &seq, sizeof(seq));
		}
		r = sendmmsg(fd, msgs, (unsigned)n, 0);
		if (r < 0) {
			/* ENOBUFS/ECONNREFUSED: the datagram is gone; count it as sent and go on. */
			errors++;
			sent += 1;
			continue;
		}
		sent += (unsigned long)r;
	}
	end = now_ns();
	printf("sent %lu packets in %.3f s: %.0f packets/s (%lu send errors)\n", sent,
	       (double)(end - start) / 1e9, (double)sent * 1e9 / (double)(end - start), errors);
	close(fd);
	return 0;
}
