// Recursion with loops: counts the placements of n queens by backtracking.
#define EXPORT(name) __attribute__((export_name(name)))

static int cols[32], diag1[64], diag2[64];

static unsigned place(int row, int n) {
	if (row == n)
		return 1;
	unsigned count = 0;
	for (int c = 0; c < n; c++) {
		if (cols[c] || diag1[row + c] || diag2[row - c + n])
			continue;
		cols[c] = diag1[row + c] = diag2[row - c + n] = 1;
		count += place(row + 1, n);
		cols[c] = diag1[row + c] = diag2[row - c + n] = 0;
	}
	return count;
}

EXPORT("run") unsigned long long run(unsigned n) { return place(0, (int)n); }
