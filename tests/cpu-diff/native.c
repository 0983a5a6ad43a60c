/*
 * The native side: a forked child with the code, data, stack and save pages
 * mapped at the fixed addresses from cpudiff.h runs each case on the host
 * processor.
 *
 * The child's code page starts with a stub we emit as raw bytes:
 *   prologue (called as a C function): push callee-saved registers, keep the
 *   host RSP, FXSAVE the host FPU state, FXRSTOR the case's, load RFLAGS and
 *   all 16 GPRs from the save page, jump to the test code;
 *   the test code ends with a jmp to the epilogue, which stores all GPRs,
 *   restores the host RSP, captures RFLAGS, FXSAVEs the case's FPU state,
 *   FXRSTORs the host's and returns.
 * Every save-page access uses a SIB absolute disp32 address (the pages sit
 * below 2 GiB), so no register is needed to reach the save area.
 *
 * Faults arrive as signals on an alternate stack (the guest RSP may point
 * anywhere); the handler records the register state at the fault from the
 * ucontext (gregs for GPRs/RIP/RFLAGS, REG_TRAPNO for the vector, REG_ERR for
 * the error code, fpregs for the FXSAVE image) and siglongjmps back to the
 * loop, so one child survives any number of faulting cases. A periodic
 * SIGALRM ends a case that has run for more than a few ticks.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "cpudiff.h"

/* Save page layout. */
#define SV_IN_GPR   0x000
#define SV_IN_FLAGS 0x080
#define SV_HOST_RSP 0x088
#define SV_OUT_GPR  0x100
#define SV_OUT_FLAGS 0x180
#define SV_IN_FX    0x200
#define SV_OUT_FX   0x400
#define SV_HOST_FX  0x600

#define TICK_US     20000 /* alarm period */
#define TIMEOUT_TICKS 3   /* a case older than this many ticks is stopped */

struct cd_shared {
	volatile uint32_t progress; /* index of the case the child is running */
	struct cd_case *cases;
	struct cd_result *res;
};

struct cd_native {
	pid_t pid;
	int cmd_w, done_r;
	unsigned batch;
	size_t map_len;
	struct cd_shared *sh;
	unsigned started, count; /* the batch in flight */
};

/* ---- stub emission ---- */

struct emitter {
	uint8_t *p;
};

static void put8(struct emitter *e, uint8_t b)
{
	*e->p++ = b;
}

static void put32(struct emitter *e, uint32_t v)
{
	memcpy(e->p, &v, 4);
	e->p += 4;
}

/* <rex> <op...> ModRM(mod=00, reg, rm=100) SIB(0x25) disp32: [abs32]. */
static void put_abs(struct emitter *e, uint8_t rex, const uint8_t *op, unsigned nop, unsigned reg,
		    uint32_t addr)
{
	if (rex)
		put8(e, rex);
	for (unsigned i = 0; i < nop; i++)
		put8(e, op[i]);
	put8(e, (uint8_t)(((reg & 7) << 3) | 4));
	put8(e, 0x25);
	put32(e, addr);
}

static void put_mov_store(struct emitter *e, unsigned reg, uint32_t addr)
{
	static const uint8_t op[] = { 0x89 };

	put_abs(e, (uint8_t)(0x48 | (reg >= 8 ? 4 : 0)), op, 1, reg, addr);
}

static void put_mov_load(struct emitter *e, unsigned reg, uint32_t addr)
{
	static const uint8_t op[] = { 0x8b };

	put_abs(e, (uint8_t)(0x48 | (reg >= 8 ? 4 : 0)), op, 1, reg, addr);
}

static void put_fx(struct emitter *e, unsigned ext, uint32_t addr)
{
	static const uint8_t op[] = { 0x0f, 0xae };

	put_abs(e, 0x48, op, 2, ext, addr); /* FXSAVE64 /0, FXRSTOR64 /1 */
}

static void put_jmp(struct emitter *e, uint64_t from_code, uint64_t to)
{
	put8(e, 0xe9);
	put32(e, (uint32_t)(to - (from_code + 5)));
}

static const uint8_t callee_saved[] = { 3, 5, 12, 13, 14, 15 }; /* rbx rbp r12-r15 */

static void emit_stub(uint8_t *code)
{
	struct emitter e = { code };
	uint32_t sv = (uint32_t)CD_SAVE_BASE;

	for (unsigned i = 0; i < sizeof(callee_saved); i++) {
		if (callee_saved[i] >= 8)
			put8(&e, 0x41);
		put8(&e, (uint8_t)(0x50 + (callee_saved[i] & 7)));
	}
	put_mov_store(&e, 4, sv + SV_HOST_RSP);
	put_fx(&e, 0, sv + SV_HOST_FX);
	put_fx(&e, 1, sv + SV_IN_FX);
	{
		static const uint8_t push_m[] = { 0xff };

		put_abs(&e, 0, push_m, 1, 6, sv + SV_IN_FLAGS); /* push qword [in_flags] */
		put8(&e, 0x9d);                                  /* popfq */
	}
	for (unsigned r = 0; r < 16; r++)
		put_mov_load(&e, r, sv + SV_IN_GPR + 8 * r); /* RSP last but one: fine, no stack use */
	put_jmp(&e, CD_CODE_BASE + (uint64_t)(e.p - code), CD_TEST_ADDR);

	e.p = code + (CD_EPI_ADDR - CD_CODE_BASE);
	for (unsigned r = 0; r < 16; r++)
		put_mov_store(&e, r, sv + SV_OUT_GPR + 8 * r);
	put_mov_load(&e, 4, sv + SV_HOST_RSP);
	put8(&e, 0x9c); /* pushfq */
	put8(&e, 0x58); /* pop rax */
	put_mov_store(&e, 0, sv + SV_OUT_FLAGS);
	put_fx(&e, 0, sv + SV_OUT_FX);
	put_fx(&e, 1, sv + SV_HOST_FX);
	put8(&e, 0xfc); /* cld: the C ABI wants DF clear */
	for (int i = (int)sizeof(callee_saved) - 1; i >= 0; i--) {
		if (callee_saved[i] >= 8)
			put8(&e, 0x41);
		put8(&e, (uint8_t)(0x58 + (callee_saved[i] & 7)));
	}
	put8(&e, 0xc3);
}

/* The code page exactly as the child sees it during case c. */
void cd_native_code_page(uint8_t *page, const struct cd_case *c)
{
	struct emitter e;

	memset(page, 0, CD_CODE_SIZE);
	emit_stub(page);
	memcpy(page + (CD_TEST_ADDR - CD_CODE_BASE), c->code, c->code_len);
	e.p = page + (CD_TEST_ADDR - CD_CODE_BASE) + c->code_len;
	put_jmp(&e, CD_TEST_ADDR + c->code_len, CD_EPI_ADDR);
}

/* ---- the child ---- */

static sigjmp_buf child_jb;
static volatile sig_atomic_t in_guest;
static volatile unsigned long ticks;
static unsigned long case_tick;
static struct cd_result *cur_res;
static uint32_t cur_len;

static const int greg_of[16] = {
	REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
	REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

static bool rip_in_test(uint64_t rip)
{
	return rip >= CD_TEST_ADDR && rip <= CD_TEST_ADDR + cur_len;
}

static void capture(ucontext_t *uc, struct cd_result *r)
{
	greg_t *g = uc->uc_mcontext.gregs;

	for (unsigned i = 0; i < 16; i++)
		r->out.gpr[i] = (uint64_t)g[greg_of[i]];
	r->out.rip = (uint64_t)g[REG_RIP];
	r->out.rflags = (uint64_t)g[REG_EFL];
	if (uc->uc_mcontext.fpregs)
		memcpy(r->out.fx, uc->uc_mcontext.fpregs, 512);
}

static void on_fault(int sig, siginfo_t *si, void *uctx)
{
	ucontext_t *uc = uctx;
	greg_t *g = uc->uc_mcontext.gregs;
	uint64_t rip = (uint64_t)g[REG_RIP];
	struct cd_result *r = cur_res;

	if (!in_guest) {
		/* A bug in the child itself: die with the signal so the parent sees it. */
		signal(sig, SIG_DFL);
		return;
	}
	capture(uc, r);
	if (!rip_in_test(rip)) {
		r->outcome = CD_CRASH;
		snprintf(r->note, sizeof(r->note), "signal %d at %#llx outside the test code", sig,
			 (unsigned long long)rip);
	} else if (g[REG_TRAPNO] == 14) {
		r->outcome = CD_MEMFAULT;
		r->fault_addr = (uint64_t)(uintptr_t)si->si_addr;
		r->fault_size = 1;
	} else {
		r->outcome = CD_EXC;
		r->vector = (int)g[REG_TRAPNO];
		r->err = (uint64_t)g[REG_ERR];
	}
	in_guest = 0;
	siglongjmp(child_jb, 1);
}

static void on_alarm(int sig, siginfo_t *si, void *uctx)
{
	ucontext_t *uc = uctx;
	uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];

	ticks++;
	if (!in_guest || ticks - case_tick < TIMEOUT_TICKS || !rip_in_test(rip))
		return;
	capture(uc, cur_res);
	cur_res->outcome = CD_TIMEOUT;
	in_guest = 0;
	siglongjmp(child_jb, 1);
}

static int child_setup(void)
{
	static const struct {
		uint64_t addr;
		size_t len;
		int prot;
	} maps[] = {
		{ CD_CODE_BASE, CD_CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC },
		{ CD_DATA_BASE, CD_DATA_SIZE, PROT_READ | PROT_WRITE },
		{ CD_STACK_BASE, CD_STACK_SIZE, PROT_READ | PROT_WRITE },
		{ CD_SAVE_BASE, 0x1000, PROT_READ | PROT_WRITE },
	};
	static uint8_t altstack[64 * 1024] __attribute__((aligned(16)));
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa;
	struct itimerval it = { { 0, TICK_US }, { 0, TICK_US } };
	static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP };

	for (unsigned i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		void *p = mmap((void *)(uintptr_t)maps[i].addr, maps[i].len, maps[i].prot,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (p != (void *)(uintptr_t)maps[i].addr) {
			fprintf(stderr, "cpu-diff: cannot map %#llx: %s\n",
				(unsigned long long)maps[i].addr, strerror(errno));
			return -EADDRINUSE;
		}
	}
	emit_stub((uint8_t *)(uintptr_t)CD_CODE_BASE);
	if (sigaltstack(&ss, NULL))
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sa.sa_sigaction = on_fault;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGALRM);
	for (unsigned i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		if (sigaction(faults[i], &sa, NULL))
			return -errno;
	sa.sa_sigaction = on_alarm;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL))
		return -errno;
	if (setitimer(ITIMER_REAL, &it, NULL))
		return -errno;
	return 0;
}

static void child_run_one(const struct cd_case *c, struct cd_result *r)
{
	uint8_t *code = (uint8_t *)(uintptr_t)CD_TEST_ADDR;
	uint8_t *sv = (uint8_t *)(uintptr_t)CD_SAVE_BASE;
	struct emitter e;
	void (*stub)(void) = (void (*)(void))(uintptr_t)CD_CODE_BASE;

	memset(r, 0, offsetof(struct cd_result, out));
	r->note[0] = 0;
	memcpy((void *)(uintptr_t)CD_DATA_BASE, c->data, CD_DATA_SIZE);
	memcpy((void *)(uintptr_t)CD_STACK_BASE, c->stack, CD_STACK_SIZE);
	memcpy(code, c->code, c->code_len);
	e.p = code + c->code_len;
	put_jmp(&e, CD_TEST_ADDR + c->code_len, CD_EPI_ADDR);
	memcpy(sv + SV_IN_GPR, c->in.gpr, sizeof(c->in.gpr));
	memcpy(sv + SV_IN_FLAGS, &c->in.rflags, 8);
	memcpy(sv + SV_IN_FX, c->in.fx, 512);

	cur_res = r;
	cur_len = c->code_len;
	case_tick = ticks;
	if (sigsetjmp(child_jb, 1) == 0) {
		in_guest = 1;
		stub();
		in_guest = 0;
		r->outcome = CD_DONE;
		memcpy(r->out.gpr, sv + SV_OUT_GPR, sizeof(r->out.gpr));
		memcpy(&r->out.rflags, sv + SV_OUT_FLAGS, 8);
		memcpy(r->out.fx, sv + SV_OUT_FX, 512);
		r->out.rip = CD_TEST_ADDR + c->code_len;
	}
	memcpy(r->data, (void *)(uintptr_t)CD_DATA_BASE, CD_DATA_SIZE);
	memcpy(r->stack, (void *)(uintptr_t)CD_STACK_BASE, CD_STACK_SIZE);
}

static void child_main(struct cd_shared *sh, int cmd_r, int done_w)
{
	uint32_t cmd[2];

	if (child_setup())
		_exit(2);
	while (read(cmd_r, cmd, sizeof(cmd)) == sizeof(cmd)) {
		for (uint32_t i = cmd[0]; i < cmd[1]; i++) {
			sh->progress = i;
			child_run_one(&sh->cases[i], &sh->res[i]);
		}
		sh->progress = cmd[1];
		if (write(done_w, "d", 1) != 1)
			break;
	}
	_exit(0);
}

/* ---- the parent ---- */

static int spawn(struct cd_native *n)
{
	int cmd[2], done[2];
	pid_t pid;

	if (pipe(cmd))
		return -errno;
	if (pipe(done)) {
		close(cmd[0]);
		close(cmd[1]);
		return -errno;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int rc = -errno;

		close(cmd[0]);
		close(cmd[1]);
		close(done[0]);
		close(done[1]);
		return rc;
	}
	if (pid == 0) {
		close(cmd[1]);
		close(done[0]);
		child_main(n->sh, cmd[0], done[1]);
	}
	close(cmd[0]);
	close(done[1]);
	n->pid = pid;
	n->cmd_w = cmd[1];
	n->done_r = done[0];
	return 0;
}

static void reap(struct cd_native *n)
{
	if (n->pid > 0) {
		kill(n->pid, SIGKILL);
		waitpid(n->pid, NULL, 0);
	}
	if (n->cmd_w >= 0)
		close(n->cmd_w);
	if (n->done_r >= 0)
		close(n->done_r);
	n->pid = -1;
	n->cmd_w = n->done_r = -1;
}

int cd_native_open(struct cd_native **out, unsigned batch)
{
	struct cd_native *n = calloc(1, sizeof(*n));
	size_t len;
	uint8_t *p;
	int rc;

	if (!n)
		return -ENOMEM;
	len = sizeof(struct cd_shared) + 64 + batch * (sizeof(struct cd_case) + sizeof(struct cd_result));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		free(n);
		return -errno;
	}
	n->sh = (struct cd_shared *)p;
	n->sh->cases = (struct cd_case *)(p + 64 + ((sizeof(struct cd_shared) + 15) & ~15ul));
	n->sh->res = (struct cd_result *)(n->sh->cases + batch);
	n->batch = batch;
	n->map_len = len;
	n->pid = -1;
	n->cmd_w = n->done_r = -1;
	rc = spawn(n);
	if (rc) {
		munmap(p, len);
		free(n);
		return rc;
	}
	*out = n;
	return 0;
}

void cd_native_close(struct cd_native *n)
{
	if (!n)
		return;
	reap(n);
	munmap(n->sh, n->map_len);
	free(n);
}

static int send_cmd(struct cd_native *n, uint32_t from, uint32_t to)
{
	uint32_t cmd[2] = { from, to };

	n->sh->progress = from;
	if (write(n->cmd_w, cmd, sizeof(cmd)) != sizeof(cmd))
		return -EPIPE;
	return 0;
}

int cd_native_start(struct cd_native *n, const struct cd_case *cases, unsigned count)
{
	if (count > n->batch)
		return -EINVAL;
	memcpy(n->sh->cases, cases, count * sizeof(*cases));
	n->count = count;
	return send_cmd(n, 0, count);
}

int cd_native_wait(struct cd_native *n, struct cd_result *res, unsigned count)
{
	for (;;) {
		struct pollfd pfd = { .fd = n->done_r, .events = POLLIN };
		char b;
		int r = poll(&pfd, 1, 10000);
		uint32_t at;
		int rc;

		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0 && read(n->done_r, &b, 1) == 1)
			break;
		/* The child died or hung outside any case: blame the case it was on. */
		at = n->sh->progress;
		reap(n);
		if (at < n->count) {
			struct cd_result *bad = &n->sh->res[at];

			memset(bad, 0, sizeof(*bad));
			bad->outcome = CD_CRASH;
			snprintf(bad->note, sizeof(bad->note), "child %s", r == 0 ? "hung" : "died");
		}
		rc = spawn(n);
		if (rc)
			return rc;
		if (at + 1 >= n->count)
			break;
		rc = send_cmd(n, at + 1, n->count);
		if (rc)
			return rc;
	}
	memcpy(res, n->sh->res, count * sizeof(*res));
	return 0;
}

int cd_native_run(struct cd_native *n, const struct cd_case *cases, struct cd_result *res,
		  unsigned count)
{
	int rc = cd_native_start(n, cases, count);

	return rc ? rc : cd_native_wait(n, res, count);
}
