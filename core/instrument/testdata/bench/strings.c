// Memory and libc string routines: builds lines with memcpy, measures them
// with strlen, compares with strcmp and searches with strchr.
#include <string.h>
#define EXPORT(name) __attribute__((export_name(name)))

static char lines[256][128];
static const char *words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"};

EXPORT("run") unsigned long long run(unsigned reps) {
	unsigned long long h = 0;
	unsigned x = 123456789u;
	for (unsigned r = 0; r < reps; r++) {
		for (int i = 0; i < 256; i++) {
			char *p = lines[i];
			int len = 0;
			for (int w = 0; w < 8; w++) {
				x ^= x << 13, x ^= x >> 17, x ^= x << 5;
				const char *word = words[x % 8];
				size_t wl = strlen(word);
				if (len + wl + 2 > sizeof lines[i])
					break;
				memcpy(p + len, word, wl);
				len += (int)wl;
				p[len++] = ' ';
			}
			p[len] = 0;
		}
		for (int i = 1; i < 256; i++) {
			h += strlen(lines[i]);
			h += (unsigned)(strcmp(lines[i - 1], lines[i]) < 0);
			const char *q = strchr(lines[i], 'x');
			h += q ? (unsigned long long)(q - lines[i]) : 0;
		}
	}
	return h;
}
