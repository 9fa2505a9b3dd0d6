// Recursion: naive Fibonacci, two calls per call.
#define EXPORT(name) __attribute__((export_name(name)))

static unsigned fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

EXPORT("run") unsigned long long run(unsigned n) { return fib(n); }
