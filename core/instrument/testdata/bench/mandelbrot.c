// Floating point in tight loops: escape-time counts over an n x n grid.
#define EXPORT(name) __attribute__((export_name(name)))

EXPORT("run") unsigned long long run(unsigned n) {
	unsigned long long total = 0;
	for (unsigned py = 0; py < n; py++)
		for (unsigned px = 0; px < n; px++) {
			double cr = 2.0 * px / n - 1.5, ci = 2.0 * py / n - 1.0;
			double zr = 0, zi = 0;
			int k = 0;
			while (k < 100 && zr * zr + zi * zi < 4.0) {
				double t = zr * zr - zi * zi + cr;
				zi = 2 * zr * zi + ci;
				zr = t;
				k++;
			}
			total += (unsigned long long)k;
		}
	return total;
}
