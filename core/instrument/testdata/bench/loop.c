// A plain loop: n iterations of an xorshift step, nothing else.
#define EXPORT(name) __attribute__((export_name(name)))

EXPORT("run") unsigned long long run(unsigned n) {
	unsigned long long x = 88172645463325252ull;
	for (unsigned i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	return x;
}
