//go:build ignore

/*
 * echo: copies the request body to the response body unchanged.
 *
 * Input:  any bytes on stdin (binary safe, any size; streamed in 64 KiB
 *         chunks, never buffered whole). Arguments are ignored.
 * Output: the same bytes on stdout, exit status 0.
 * Errors: a failed read or write exits with status 1.
 *
 * The //go:build ignore line above keeps the go tool from treating this
 * file as cgo source of package functions; clang sees a line comment.
 *
 * Build (see Makefile):
 *   clang --target=wasm32-wasi -O2 -Wall -Wextra -s -o echo.wasm echo.c
 */
#include <stddef.h>
#include <unistd.h>

static char buf[64 * 1024];

int main(void) {
	for (;;) {
		ssize_t r = read(0, buf, sizeof buf);
		if (r < 0)
			return 1;
		if (r == 0)
			return 0;
		const char *p = buf;
		size_t n = (size_t)r;
		while (n > 0) {
			ssize_t w = write(1, p, n);
			if (w <= 0)
				return 1;
			p += w;
			n -= (size_t)w;
		}
	}
}
