//go:build ignore

/*
 * spin: burns CPU for a given number of milliseconds.
 *
 * Input:  a duration in milliseconds as a decimal integer in argv[1] (first
 *         query parameter) if present, otherwise on stdin. Surrounding
 *         whitespace is ignored.
 * Output: after busy-waiting at least that long, the number followed by
 *         "\n" on stdout, exit status 0.
 * Errors: missing, non-numeric or too large input prints a usage message on
 *         stderr and exits with status 2.
 *
 * The wait is a real busy loop polling clock_gettime(CLOCK_MONOTONIC), never
 * a sleep: the instance stays on its CPU the whole time.
 *
 * The //go:build ignore line above keeps the go tool from treating this
 * file as cgo source of package functions; clang sees a line comment.
 *
 * Build (see Makefile):
 *   clang --target=wasm32-wasi -O2 -Wall -Wextra -s -o spin.wasm spin.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Largest duration whose nanosecond count fits in a uint64. */
#define MAX_MS (UINT64_MAX / 1000000u)

static void put(int fd, const char *s, size_t n) {
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			exit(1);
		s += w;
		n -= (size_t)w;
	}
}

static void usage(const char *why) {
	static const char msg[] =
		"usage: spin MS  (milliseconds in argv[1] or on stdin)\n";
	put(2, "spin: ", 6);
	put(2, why, strlen(why));
	put(2, "\n", 1);
	put(2, msg, sizeof msg - 1);
	exit(2);
}

static int is_space(char c) {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* Parses s[0:len] as a decimal number after trimming whitespace. */
static uint64_t parse_ms(const char *s, size_t len) {
	while (len > 0 && is_space(*s))
		s++, len--;
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (len == 0)
		usage("missing duration");
	uint64_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			usage("duration is not a number");
		uint64_t d = (uint64_t)(s[i] - '0');
		if (n > (MAX_MS - d) / 10)
			usage("duration is too large");
		n = n * 10 + d;
	}
	return n;
}

static uint64_t now_ns(void) {
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		static const char msg[] = "spin: clock_gettime failed\n";
		put(2, msg, sizeof msg - 1);
		exit(1);
	}
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
	uint64_t ms;
	if (argc > 1) {
		ms = parse_ms(argv[1], strlen(argv[1]));
	} else {
		char buf[64];
		size_t len = 0;
		for (;;) {
			ssize_t r = read(0, buf + len, sizeof buf - len);
			if (r < 0)
				usage("cannot read stdin");
			if (r == 0)
				break;
			len += (size_t)r;
			if (len == sizeof buf)
				usage("duration is not a number");
		}
		ms = parse_ms(buf, len);
	}

	uint64_t start = now_ns();
	uint64_t span = ms * 1000000u;
	while (now_ns() - start < span) {
		/* busy: poll the clock again */
	}

	char out[24];
	char *p = out + sizeof out;
	*--p = '\n';
	uint64_t v = ms;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(1, p, (size_t)(out + sizeof out - p));
	return 0;
}
