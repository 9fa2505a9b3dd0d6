//go:build ignore

/*
 * fib: naive recursive Fibonacci, the gosledge call-heavy benchmark.
 *
 * Input:  n as a decimal integer in argv[1] (first query parameter) if
 *         present, otherwise the request body on stdin. Surrounding
 *         whitespace is ignored. 0 <= n <= 93 (fib(93) is the largest
 *         Fibonacci number that fits in a uint64).
 * Output: fib(n) in decimal followed by "\n" on stdout, exit status 0.
 *         `curl --data 10 .../fib` prints "55".
 * Errors: missing, non-numeric or out-of-range n prints a usage message on
 *         stderr and exits with status 2.
 *
 * The //go:build ignore line above keeps the go tool from treating this
 * file as cgo source of package functions; clang sees a line comment.
 *
 * Build (see Makefile):
 *   clang --target=wasm32-wasi -O2 -Wall -Wextra -s -o fib.wasm fib.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_N 93

/* Deliberately exponential: this function is the benchmark, two real calls
 * per level. noinline keeps clang from flattening the outer levels into the
 * caller; disable_tail_calls keeps it from turning the second call into a
 * loop with an accumulator (tail-recursion elimination), which would halve
 * the calls. */
__attribute__((noinline, disable_tail_calls)) static uint64_t fib(uint64_t n) {
	if (n < 2)
		return n;
	return fib(n - 1) + fib(n - 2);
}

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
		"usage: fib N  (N in argv[1] or on stdin, 0 <= N <= 93)\n";
	put(2, "fib: ", 5);
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
static uint64_t parse_n(const char *s, size_t len) {
	while (len > 0 && is_space(*s))
		s++, len--;
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (len == 0)
		usage("missing n");
	uint64_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			usage("n is not a number");
		n = n * 10 + (uint64_t)(s[i] - '0');
		if (n > MAX_N)
			usage("n is out of range");
	}
	return n;
}

int main(int argc, char **argv) {
	uint64_t n;
	if (argc > 1) {
		n = parse_n(argv[1], strlen(argv[1]));
	} else {
		/* A valid input is short; anything that does not fit is invalid. */
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
				usage("n is not a number");
		}
		n = parse_n(buf, len);
	}

	uint64_t v = fib(n);
	char out[24];
	char *p = out + sizeof out;
	*--p = '\n';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(1, p, (size_t)(out + sizeof out - p));
	return 0;
}
