//go:build ignore

/*
 * trap: integer division by zero, which makes the wasm runtime trap.
 *
 * Input:  none (stdin and arguments are ignored).
 * Output: one line on stderr, nothing on stdout; then the instance traps
 *         (i32.div_s by zero), so it never exits normally.
 *
 * Both operands are read through volatiles and the quotient is stored through
 * one, so clang can neither fold, drop nor rewrite the division (with a
 * constant dividend it turns 1/x into a select that does not trap).
 *
 * The //go:build ignore line above keeps the go tool from treating this
 * file as cgo source of package functions; clang sees a line comment.
 *
 * Build (see Makefile):
 *   clang --target=wasm32-wasi -O2 -Wall -Wextra -s -o trap.wasm trap.c
 */
#include <unistd.h>

static volatile int one = 1;
static volatile int zero = 0;
static volatile int sink;

int main(void) {
	static const char msg[] = "trap: dividing by zero\n";
	(void)!write(2, msg, sizeof msg - 1);
	sink = one / zero;
	return 0;
}
