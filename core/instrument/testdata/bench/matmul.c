// Memory-bound: naive double matrix multiply, n x n.
#define EXPORT(name) __attribute__((export_name(name)))

#define N 160
static double a[N][N], b[N][N], c[N][N];

EXPORT("run") unsigned long long run(unsigned n) {
	if (n > N)
		n = N;
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < n; j++) {
			a[i][j] = (double)(i * 7 + j) / n;
			b[i][j] = (double)(i + j * 3) / n;
		}
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < n; j++) {
			double s = 0;
			for (unsigned k = 0; k < n; k++)
				s += a[i][k] * b[k][j];
			c[i][j] = s;
		}
	double t = 0;
	for (unsigned i = 0; i < n; i++)
		t += c[i][(i * 13) % n];
	return (unsigned long long)(t * 1000);
}
