// Tight loops over memory: the sieve of Eratosthenes, repeated.
#define EXPORT(name) __attribute__((export_name(name)))

static unsigned char composite[1 << 20];

EXPORT("run") unsigned long long run(unsigned reps) {
	unsigned long long total = 0;
	for (unsigned r = 0; r < reps; r++) {
		unsigned n = sizeof composite - r;
		for (unsigned i = 0; i < n; i++)
			composite[i] = 0;
		unsigned count = 0;
		for (unsigned i = 2; i < n; i++) {
			if (composite[i])
				continue;
			count++;
			for (unsigned j = i + i; j < n; j += i)
				composite[j] = 1;
		}
		total += count;
	}
	return total;
}
