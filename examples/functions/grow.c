//go:build ignore

/*
 * grow: grows linear memory until refused, then touches past its end.
 *
 * Input:  none (stdin and arguments are ignored).
 * Output: "grow: reached N pages" on stderr (N = memory size in 64 KiB
 *         pages once memory.grow fails), nothing on stdout; then a store
 *         beyond the end of memory makes the instance trap (out of bounds
 *         memory access), so it never exits normally.
 *
 * Growth asks for big steps first and halves the step on each refusal, so
 * it ends exactly at the limit with a few dozen memory.grow calls.
 *
 * The //go:build ignore line above keeps the go tool from treating this
 * file as cgo source of package functions; clang sees a line comment.
 *
 * Build (see Makefile):
 *   clang --target=wasm32-wasi -O2 -Wall -Wextra -s -o grow.wasm grow.c
 */
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#define PAGE 65536u

static void put(const char *s, size_t n) {
	while (n > 0) {
		ssize_t w = write(2, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

int main(void) {
	for (size_t step = 1024; step > 0;) {
		if (__builtin_wasm_memory_grow(0, step) == SIZE_MAX)
			step /= 2;
	}
	uint64_t pages = __builtin_wasm_memory_size(0);

	char line[48] = "grow: reached ";
	char num[24];
	char *p = num + sizeof num;
	uint64_t v = pages;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	size_t n = 14;
	while (p < num + sizeof num)
		line[n++] = *p++;
	static const char tail[] = " pages\n";
	for (size_t i = 0; i < sizeof tail - 1; i++)
		line[n++] = tail[i];
	put(line, n);

	uint64_t end = pages * PAGE;
	if (end < ((uint64_t)1 << 32)) {
		/* First byte past the end of memory. */
		volatile uint8_t *past = (volatile uint8_t *)(uintptr_t)end;
		*past = 1;
	} else {
		/* Memory spans the whole 4 GiB address space: no byte lies past
		 * it, but an 8-byte store at the last 4 bytes runs off the end. */
		volatile uint64_t *past = (volatile uint64_t *)(uintptr_t)0xfffffffcu;
		*past = 1;
	}
	/* Not reached: the store traps. */
	return 0;
}
