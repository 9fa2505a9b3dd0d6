// Floating point and calls: spectral-norm of the Computer Language
// Benchmarks Game; A(i, j) is a function called in the inner loops.
#include <math.h>
#define EXPORT(name) __attribute__((export_name(name)))

#define N 400
static double u[N], v[N], tmp[N];

__attribute__((noinline)) static double A(int i, int j) { return 1.0 / ((i + j) * (i + j + 1) / 2 + i + 1); }

static void mulAv(int n, const double *x, double *y) {
	for (int i = 0; i < n; i++) {
		double s = 0;
		for (int j = 0; j < n; j++)
			s += A(i, j) * x[j];
		y[i] = s;
	}
}

static void mulAtv(int n, const double *x, double *y) {
	for (int i = 0; i < n; i++) {
		double s = 0;
		for (int j = 0; j < n; j++)
			s += A(j, i) * x[j];
		y[i] = s;
	}
}

static void mulAtAv(int n, const double *x, double *y) {
	mulAv(n, x, tmp);
	mulAtv(n, tmp, y);
}

EXPORT("run") unsigned long long run(unsigned n) {
	if (n > N)
		n = N;
	for (unsigned i = 0; i < n; i++)
		u[i] = 1;
	for (int i = 0; i < 10; i++) {
		mulAtAv((int)n, u, v);
		mulAtAv((int)n, v, u);
	}
	double vBv = 0, vv = 0;
	for (unsigned i = 0; i < n; i++)
		vBv += u[i] * v[i], vv += v[i] * v[i];
	return (unsigned long long)(sqrt(vBv / vv) * 1e9);
}
