//go:build ignore

/*
 * loop: never returns.
 *
 * Input:  none (stdin and arguments are ignored).
 * Output: nothing; spins forever incrementing a volatile counter (which
 *         keeps clang from removing the loop) until the runtime stops it.
 *
 * The //go:build ignore line above keeps the go tool from treating this
 * file as cgo source of package functions; clang sees a line comment.
 *
 * Build (see Makefile):
 *   clang --target=wasm32-wasi -O2 -Wall -Wextra -s -o loop.wasm loop.c
 */

static volatile unsigned long counter;

int main(void) {
	for (;;)
		counter++;
}
