// Call-heavy dispatch: a bytecode interpreter whose handlers are called
// through a table of function pointers, running a counting loop program.
#define EXPORT(name) __attribute__((export_name(name)))

enum { PUSH, ADD, SUB, MUL, DUP, SWAP, JNZ, DEC, POP, HALT };

typedef struct {
	long long stack[64];
	int sp, pc;
	const int *code;
} vm;

static void op_push(vm *m) { m->stack[m->sp++] = m->code[m->pc++]; }
static void op_add(vm *m) { m->sp--, m->stack[m->sp - 1] += m->stack[m->sp]; }
static void op_sub(vm *m) { m->sp--, m->stack[m->sp - 1] -= m->stack[m->sp]; }
static void op_mul(vm *m) { m->sp--, m->stack[m->sp - 1] *= m->stack[m->sp]; }
static void op_dup(vm *m) { m->stack[m->sp] = m->stack[m->sp - 1], m->sp++; }
static void op_swap(vm *m) {
	long long t = m->stack[m->sp - 1];
	m->stack[m->sp - 1] = m->stack[m->sp - 2], m->stack[m->sp - 2] = t;
}
static void op_jnz(vm *m) {
	int target = m->code[m->pc++];
	if (m->stack[m->sp - 1])
		m->pc = target;
}
static void op_dec(vm *m) { m->stack[m->sp - 1]--; }
static void op_pop(vm *m) { m->sp--; }

static void (*const ops[])(vm *) = {op_push, op_add, op_sub, op_mul, op_dup, op_swap, op_jnz, op_dec, op_pop};

// acc = 1; for (i = n; i; i--) acc = acc*3 + 7; the stack is [acc, i].
static int program[] = {
	PUSH, 1, PUSH, 0, // acc, i (patched with n)
	SWAP, PUSH, 3, MUL, // 4: i acc*3
	SWAP, DUP, PUSH, 1, SUB, SWAP, POP, // acc*3 i-1
	SWAP, PUSH, 7, ADD, SWAP, // acc*3+7 i-1
	JNZ, 4, POP, HALT,
};

EXPORT("run") unsigned long long run(unsigned n) {
	vm m = {.sp = 0, .pc = 0, .code = program};
	program[3] = (int)n;
	for (;;) {
		int op = program[m.pc++];
		if (op == HALT)
			break;
		ops[op](&m);
	}
	return (unsigned long long)m.stack[0];
}
