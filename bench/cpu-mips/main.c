/*
 * cpu-mips: guest instructions per second of the software CPU on fixed
 * integer, memory, branch and SSE mixes, next to the time the host takes
 * to run the same bytes natively. Times are thread CPU time.
 *
 * Usage: cpu-mips [seconds-per-mix (default 1)]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cpu/x86/cpu.h"

extern const uint8_t mix_int[], mix_int_end[], mix_mem[], mix_mem_end[];
extern const uint8_t mix_branch[], mix_branch_end[], mix_sse[], mix_sse_end[];

#define RAM_SIZE (4u << 20)
#define CODE 0x10000u
#define HALT 0x8000u
#define STACK 0x80000u
#define DATA 0x100000u

static uint8_t *ram;

static uint8_t *page(void *o, uint64_t gpa, bool w)
{
	return gpa < RAM_SIZE ? ram + gpa : NULL;
}

static const struct x86_mem_ops ops = { .page = page };

static double now(void)
{
	struct timespec ts;

	/* CPU time of this thread: the host is shared (and virtualised), so
	 * wall time would count other processes' time slices. */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct mix {
	const char *name;
	const uint8_t *start, *end;
	uint64_t iters; /* per run */
};

static int setup(struct x86_cpu *cpu, const struct mix *m, uint64_t iters)
{
	x86_flush_code(cpu);
	memcpy(ram + CODE, m->start, m->end - m->start);
	ram[HALT] = 0xf4;
	cpu->gpr[X86_RSP] = STACK - 8;
	memcpy(ram + STACK - 8, &(uint64_t){ HALT }, 8);
	cpu->gpr[X86_RDI] = DATA;
	cpu->gpr[X86_RSI] = iters;
	cpu->rip = CODE;
	return 0;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	static const struct mix mixes[] = {
		{ "integer", mix_int, mix_int_end, 1000000 },
		{ "memory", mix_mem, mix_mem_end, 400 },
		{ "branch", mix_branch, mix_branch_end, 1000000 },
		{ "sse", mix_sse, mix_sse_end, 1000000 },
	};
	struct x86_cpu *cpu = calloc(1, sizeof(*cpu));
	void *xbuf = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *ndata = aligned_alloc(4096, 1 << 16);

	ram = aligned_alloc(4096, RAM_SIZE);
	if (!cpu || !ram || xbuf == MAP_FAILED || !ndata)
		return 1;
	memset(ram, 0, RAM_SIZE);
	memset(ndata, 0, 1 << 16);
	if (x86_cpu_init(cpu, &ops, NULL))
		return 1;
	cpu->cr0 = X86_CR0_PE | (1 << 1); /* no paging: linear == physical */
	cpu->cr4 = X86_CR4_PAE | (1 << 9) | (1 << 10);
	cpu->efer = X86_EFER_LME | X86_EFER_LMA;
	for (int s = 0; s < X86_NSEG; s++)
		x86_set_seg(cpu, s, 0x10, 0, 0xffffffff, X86_SEG_DATA32);
	x86_set_seg(cpu, X86_CS, 0x8, 0, 0xffffffff, X86_SEG_CODE64);

	printf("%-8s %14s %12s %12s %10s %8s\n", "mix", "guest insns", "engine s", "MIPS",
	       "native s", "slowdown");
	for (unsigned i = 0; i < sizeof(mixes) / sizeof(mixes[0]); i++) {
		const struct mix *m = &mixes[i];
		uint64_t runs = 0, insns = 0;
		double t0 = now(), te, tn;
		uint64_t (*fn)(void *, uint64_t) = xbuf;

		while (now() - t0 < secs) {
			uint64_t before = cpu->icount;
			int r;

			setup(cpu, m, m->iters);
			r = x86_run(cpu, ~0ull);
			if (r != X86_STOP_HLT) {
				fprintf(stderr, "%s: stop %d vector %u at %#llx\n", m->name, r,
					cpu->exc_vector, (unsigned long long)cpu->rip);
				return 1;
			}
			insns += cpu->icount - before;
			runs++;
		}
		te = now() - t0;
		memcpy(xbuf, m->start, m->end - m->start);
		t0 = now();
		for (uint64_t k = 0; k < runs; k++)
			fn(ndata, m->iters);
		tn = now() - t0;
		printf("%-8s %14llu %12.3f %12.1f %10.4f %7.1fx\n", m->name,
		       (unsigned long long)insns, te, insns / te / 1e6, tn, te / tn);
	}
	x86_cpu_fini(cpu);
	return 0;
}
