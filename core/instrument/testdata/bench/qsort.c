// Call-heavy through function pointers: libc qsort with a comparator, a
// call_indirect per comparison.
#include <stdlib.h>
#define EXPORT(name) __attribute__((export_name(name)))

static unsigned data[1 << 16];

static int cmp(const void *a, const void *b) {
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return (x > y) - (x < y);
}

EXPORT("run") unsigned long long run(unsigned n) {
	if (n > sizeof data / sizeof data[0])
		n = sizeof data / sizeof data[0];
	unsigned x = 88675123u;
	for (unsigned i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		data[i] = x % 1000003u;
	}
	qsort(data, n, sizeof data[0], cmp);
	unsigned long long h = 0;
	for (unsigned i = 0; i < n; i += 97)
		h = h * 31 + data[i];
	return h;
}
