//go:build ignore

/*
 * exit1: fails on purpose with exit status 1.
 *
 * Input:  none (stdin and arguments are ignored).
 * Output: one line on stderr, nothing on stdout, exit status 1.
 *
 * The //go:build ignore line above keeps the go tool from treating this
 * file as cgo source of package functions; clang sees a line comment.
 *
 * Build (see Makefile):
 *   clang --target=wasm32-wasi -O2 -Wall -Wextra -s -o exit1.wasm exit1.c
 */
#include <stdlib.h>
#include <unistd.h>

int main(void) {
	static const char msg[] = "exit1: failing on purpose with status 1\n";
	(void)!write(2, msg, sizeof msg - 1);
	exit(1);
}
