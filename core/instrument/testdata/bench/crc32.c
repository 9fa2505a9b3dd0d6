// Tight bitwise loop: bytewise CRC-32 without a table, over a generated
// buffer.
#define EXPORT(name) __attribute__((export_name(name)))

static unsigned char buf[1 << 16];

EXPORT("run") unsigned long long run(unsigned reps) {
	unsigned x = 2463534242u;
	for (unsigned i = 0; i < sizeof buf; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
	unsigned crc = 0xffffffffu;
	for (unsigned r = 0; r < reps; r++)
		for (unsigned i = 0; i < sizeof buf; i++) {
			crc ^= buf[i];
			for (int k = 0; k < 8; k++)
				crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
		}
	return ~crc;
}
