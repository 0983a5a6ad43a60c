/*
 * cpu-diff: run generated cases natively and in the engine and compare.
 *
 *   cpu-diff [--seed N] [--cases N]     CI mode: skips known-failures.txt families
 *   cpu-diff --long [--hours H]         random seed, runs until stopped or H hours
 *   cpu-diff --filter FAM[,FAM...]      only these families (known failures included)
 *   cpu-diff --report                   per-family pass/fail table, nothing skipped
 *   cpu-diff --only N [--seed N]        re-run one case and print everything
 *   cpu-diff --self-check               host against host: checks the harness itself
 *   cpu-diff --harness-test             hand-made cases with known native outcomes
 *   cpu-diff --coverage                 engine opcodes (core tables, fpu/) without a template
 *   cpu-diff --fpu-direct               x87/SSE cases through fpu_exec() without the core
 *
 * Case i is generated from (seed, i) alone, so a failure is reproduced by
 * the same command line plus --only i. The first 3/4 of the cases exercise
 * one template each (round-robin over the allowed templates); the rest are
 * random sequences drawn from templates that passed their single cases.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpudiff.h"

#ifndef CD_SOURCE_DIR
#define CD_SOURCE_DIR "."
#endif

#define BATCH 256
#define NFAM_MAX 128

struct fam_stat {
	uint64_t cases, pass, fail, unimpl;
	uint64_t seq_fail; /* failing sequences with a unit of this family */
	int64_t first_fail;
	char first_field[24];
};

struct ctx {
	uint64_t seed, cases;
	bool long_mode, report, verbose;
	double hours;
	const char *filter, *known_path;
	int64_t only;
	unsigned max_print, printed;
	struct cd_native *nat;
	struct cd_native *self; /* --self-check: a second native child plays the engine */
	bool fpu_direct;
	bool fam_allowed[NFAM_MAX], fam_known[NFAM_MAX];
	char known_reason[NFAM_MAX][120];
	bool *tmpl_allowed, *seq_allowed;
	/* --long: templates with a passing single case and no failing or
	 * unimplemented one so far; only these go into sequences, so a template
	 * the engine does not implement never ends up in one before its own
	 * single cases had a chance to say so. */
	bool *seq_ready;
	uint64_t *tmpl_fail, *tmpl_unimpl, *tmpl_cases;
	unsigned *list, nlist;
	struct fam_stat fam[NFAM_MAX], seq;
	uint64_t total, failures, unimpl, skipped_fam, minimised;
	uint64_t host_reruns; /* disagreements the host did not repeat */
	uint64_t outcomes[CD_CRASH + 1], vectors[32];
};

static volatile sig_atomic_t stop_req;

static void on_int(int sig)
{
	(void)sig;
	stop_req = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: cpu-diff [--seed N] [--cases N] [--long [--hours H]] [--filter FAM[,FAM]]\n"
		"                [--report] [--only N] [--max-print N] [--known FILE] [-v]\n"
		"       cpu-diff --list   (families and templates)\n");
}

static void load_known(struct ctx *x)
{
	char path[512], line[256];
	FILE *f;

	if (x->known_path)
		snprintf(path, sizeof(path), "%s", x->known_path);
	else
		snprintf(path, sizeof(path), "%s/known-failures.txt", CD_SOURCE_DIR);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cpu-diff: no %s (%s): nothing skipped\n", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char name[64] = "";
		int n = 0, fi;
		char *reason;

		if (line[0] == '#' || sscanf(line, "%63s%n", name, &n) != 1)
			continue;
		fi = cd_family_index(name);
		if (fi < 0) {
			fprintf(stderr, "cpu-diff: %s: unknown family '%s'\n", path, name);
			continue;
		}
		reason = line + n;
		reason += strspn(reason, " \t");
		reason[strcspn(reason, "\n")] = 0;
		x->fam_known[fi] = true;
		snprintf(x->known_reason[fi], sizeof(x->known_reason[fi]), "%s", reason);
	}
	fclose(f);
}

static bool in_filter(const char *filter, const char *fam)
{
	size_t n = strlen(fam);

	for (const char *p = filter; p && *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l == n && !strncmp(p, fam, n))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

static void gen_case(struct ctx *x, uint64_t i, struct cd_case *c)
{
	struct cd_rng r;
	uint64_t singles = x->cases - x->cases / 4;

	cd_rng_seed(&r, x->seed * 0x9e3779b97f4a7c15ull + i);
	if (x->long_mode) {
		/* every fourth case is a sequence; the others walk the templates */
		if (i % 4 != 3 && x->nlist)
			cd_gen_single(&r, x->list[(i / 4 * 3 + i % 4) % x->nlist], c);
		else
			cd_gen_sequence(&r, x->seq_ready, c);
		return;
	}
	if (i < singles || x->nlist == 0)
		cd_gen_single(&r, x->list[i % (x->nlist ? x->nlist : 1)], c);
	else
		cd_gen_sequence(&r, x->seq_allowed, c);
}

/*
 * The engine runs in this process: a crash or a hang inside it becomes a
 * failing case (outcome "harness crash" with a note) instead of ending the run.
 */
static sigjmp_buf eng_jb;
static volatile sig_atomic_t in_engine;

static void on_engine_signal(int sig)
{
	if (in_engine)
		siglongjmp(eng_jb, sig);
	if (sig != SIGALRM) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
}

static void engine_guard_init(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGALRM };

	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_engine_signal);
}

static void engine_run(struct ctx *x, const struct cd_case *c, struct cd_result *emu)
{
	int sig;

	if ((sig = sigsetjmp(eng_jb, 1)) == 0) {
		in_engine = 1;
		alarm(5);
		if (x->fpu_direct)
			cd_engine_run_fpu(c, emu);
		else
			cd_engine_run(c, emu);
		alarm(0);
		in_engine = 0;
		return;
	}
	in_engine = 0;
	alarm(0);
	memset(emu, 0, sizeof(*emu));
	emu->outcome = CD_CRASH;
	snprintf(emu->note, sizeof(emu->note), sig == SIGALRM ? "engine hung (5 s in one case)"
							     : "engine crashed with signal %d", sig);
	/* its state may be inconsistent now: start from a fresh CPU */
	if (cd_engine_init())
		exit(2);
}

static bool run_pair(struct ctx *x, const struct cd_case *c, struct cd_result *nat,
		     struct cd_result *emu, struct cd_diff *d)
{
	if (cd_native_run(x->nat, c, nat, 1)) {
		fprintf(stderr, "cpu-diff: native runner failed\n");
		exit(2);
	}
	if (x->self) {
		if (cd_native_run(x->self, c, emu, 1))
			exit(2);
	} else {
		engine_run(x, c, emu);
	}
	return cd_compare(c, nat, emu, d);
}

static bool same_failure(const struct cd_diff *a, const struct cd_diff *b)
{
	for (unsigned i = 0; i < b->n; i++)
		if (!strcmp(a->field[0], b->field[i]))
			return true;
	return false;
}

/* Shrink a failing case: drop units (their bytes become NOPs so RIP-relative
 * operands of the others stay valid) and zero registers, as long as the same
 * field still differs. */
static void minimise(struct ctx *x, struct cd_case *c, const struct cd_diff *d0)
{
	static struct cd_result nat, emu;
	struct cd_diff d;
	struct cd_case *t = malloc(sizeof(*t));

	if (!t)
		return;
	for (unsigned i = 0; c->nunits > 1 && i < c->nunits;) {
		*t = *c;
		memset(t->code + t->units[i].off, 0x90, t->units[i].len);
		memmove(&t->units[i], &t->units[i + 1], (t->nunits - i - 1) * sizeof(t->units[0]));
		t->nunits--;
		if (!run_pair(x, t, &nat, &emu, &d) && same_failure(d0, &d))
			*c = *t;
		else
			i++;
	}
	for (int g = 0; g < 16; g++) {
		if (!c->in.gpr[g])
			continue;
		*t = *c;
		t->in.gpr[g] = 0;
		if (!run_pair(x, t, &nat, &emu, &d) && same_failure(d0, &d))
			*c = *t;
	}
	for (int v = 0; v < 16; v++) {
		*t = *c;
		memset(t->in.fx + FX_XMM(v), 0, 16);
		if (memcmp(t->in.fx, c->in.fx, 512) && !run_pair(x, t, &nat, &emu, &d) &&
		    same_failure(d0, &d))
			*c = *t;
	}
	free(t);
}

static void report_failure(struct ctx *x, uint64_t idx, const struct cd_case *c0,
			   const struct cd_diff *d0)
{
	static struct cd_result nat, emu;
	struct cd_case *c = malloc(sizeof(*c));
	struct cd_diff d;

	if (!c)
		return;
	*c = *c0;
	minimise(x, c, d0);
	run_pair(x, c, &nat, &emu, &d);
	printf("FAIL case %" PRIu64 " (reproduce: cpu-diff --seed %" PRIu64 " --cases %" PRIu64
	       "%s%s%s --only %" PRIu64 "), minimised:\n",
	       idx, x->seed, x->cases, x->filter ? " --filter " : "", x->filter ? x->filter : "",
	       x->long_mode ? " --long" : "", idx);
	cd_print_case(stdout, c);
	cd_print_result(stdout, "host  ", &nat);
	cd_print_result(stdout, "engine", &emu);
	cd_print_diff(stdout, d.n ? &d : d0);
	fflush(stdout);
	free(c);
}

/*
 * The host is the oracle, but not a perfect one: on the shared (virtualised)
 * build hosts a native run now and then reports an exception the same bytes
 * and state do not raise when run again (seen: #UD on SSE instructions such
 * as PUNPCKLWD, MINSS, SHUFPS, with RIP already past the instruction). Before
 * a disagreement counts, run the case natively twice more: if the host then
 * gives a different result and one that agrees with the engine, the first run
 * was the host's. A disagreement the host repeats is always a failure.
 */
static bool host_disagrees_with_itself(struct ctx *x, const struct cd_case *c,
				       const struct cd_result *nat, const struct cd_result *emu)
{
	static struct cd_result again;
	struct cd_diff d;

	for (int i = 0; i < 2; i++) {
		if (cd_native_run(x->nat, c, &again, 1))
			return false;
		if (cd_compare(c, nat, &again, &d))
			continue; /* the host repeats itself: not a flake */
		if (cd_compare(c, &again, emu, &d)) {
			printf("cpu-diff: host result not repeatable (first run: outcome %d vector %d), "
			       "engine matches the rerun\n",
			       nat->outcome, nat->vector);
			return true;
		}
	}
	return false;
}

static void account(struct ctx *x, uint64_t idx, const struct cd_case *c,
		    const struct cd_result *nat, const struct cd_result *emu)
{
	struct cd_diff d;
	bool single = c->nunits == 1;
	unsigned t = c->nunits ? c->units[0].tmpl : 0;
	struct fam_stat *fs = single ? &x->fam[cd_template_family(t)] : &x->seq;
	bool ok;

	x->total++;
	fs->cases++;
	x->outcomes[nat->outcome]++;
	if (nat->outcome == CD_EXC && nat->vector >= 0 && nat->vector < 32)
		x->vectors[nat->vector]++;
	if (single)
		x->tmpl_cases[t]++;
	if (cd_is_unimplemented(nat, emu)) {
		/* Reported as not implemented; never a pass. */
		fs->unimpl++;
		x->unimpl++;
		if (single)
			x->tmpl_unimpl[t]++;
		if (single) {
			x->seq_allowed[t] = false;
			x->seq_ready[t] = false;
		}
		return;
	}
	if (nat->outcome == CD_CRASH || emu->outcome == CD_CRASH)
		fprintf(stderr, "cpu-diff: case %" PRIu64 ": %s %s\n", idx,
			nat->outcome == CD_CRASH ? "native run:" : "engine:",
			nat->outcome == CD_CRASH ? nat->note : emu->note);
	ok = cd_compare(c, nat, emu, &d);
	if (!ok && host_disagrees_with_itself(x, c, nat, emu)) {
		/* The oracle, not the engine: count it and say so at the end. */
		x->host_reruns++;
		ok = true;
	}
	if (ok) {
		fs->pass++;
		if (single && x->seq_allowed[t])
			x->seq_ready[t] = true;
		return;
	}
	fs->fail++;
	x->failures++;
	if (!single) {
		/* Blame the families of the units a minimised sequence still needs. */
		static struct cd_case mc;

		mc = *c;
		if (x->minimised++ < 1000)
			minimise(x, &mc, &d);
		for (unsigned i = 0; i < mc.nunits; i++) {
			struct fam_stat *uf = &x->fam[cd_template_family(mc.units[i].tmpl)];

			uf->seq_fail++;
			if (!uf->first_field[0]) {
				uf->first_fail = (int64_t)idx;
				snprintf(uf->first_field, sizeof(uf->first_field), "%s", d.field[0]);
			}
		}
	}
	if (single) {
		x->tmpl_fail[t]++;
		x->seq_allowed[t] = false;
		x->seq_ready[t] = false;
	}
	if (fs->fail == 1) {
		fs->first_fail = (int64_t)idx;
		snprintf(fs->first_field, sizeof(fs->first_field), "%s", d.field[0]);
	}
	if (x->printed < x->max_print && !x->report) {
		x->printed++;
		report_failure(x, idx, c, &d);
	}
}

static void print_report(struct ctx *x)
{
	unsigned nf = cd_family_count();

	printf("\n%-12s %9s %9s %9s %9s %8s  %s\n", "family", "cases", "pass", "fail", "not-impl",
	       "seq-fail", "status / templates failing (F) or not implemented (U)");
	for (unsigned f = 0; f < nf; f++) {
		struct fam_stat *s = &x->fam[f];
		const char *st;
		unsigned shown = 0;

		if (!x->fam_allowed[f]) {
			if (x->fam_known[f] && !x->filter)
				printf("%-12s %9s %9s %9s %9s %8s  skipped (known failure: %s)\n",
				       cd_family_name(f), "-", "-", "-", "-", "-", x->known_reason[f]);
			continue;
		}
		st = s->fail || s->seq_fail ? "FAIL" : s->unimpl == s->cases ? "not implemented"
			       : s->unimpl ? "partial" : "pass";
		printf("%-12s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %8" PRIu64 "  %s",
		       cd_family_name(f), s->cases, s->pass, s->fail, s->unimpl, s->seq_fail, st);
		if (s->fail || s->seq_fail)
			printf(" (first: case %" PRId64 ", %s)", s->first_fail, s->first_field);
		if (x->fam_known[f] && !s->fail && !s->seq_fail && !s->unimpl)
			printf(" [listed in known-failures.txt: remove it]");
		for (unsigned t = 0; t < cd_ntemplates && (s->fail || s->unimpl); t++) {
			if (cd_template_family(t) != (int)f ||
			    !(x->tmpl_fail[t] || x->tmpl_unimpl[t]) || s->unimpl == s->cases)
				continue;
			if (shown++ < 8)
				printf("%s %s:%s", shown == 1 ? " ;" : ",", cd_templates[t].name,
				       x->tmpl_fail[t] ? "F" : "U");
		}
		if (shown > 8)
			printf(" ...(+%u)", shown - 8);
		printf("\n");
	}
	printf("%-12s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %8s  %s\n", "sequences",
	       x->seq.cases, x->seq.pass, x->seq.fail, x->seq.unimpl, "",
	       x->seq.fail ? "FAIL" : "pass");
}

/* Generate, run natively and in the engine (overlapped), and account. */
static int run_batch(struct ctx *x, uint64_t base, unsigned n)
{
	static struct cd_case cases[BATCH];
	static struct cd_result nat[BATCH], emu[BATCH];
	int rc;

	for (unsigned i = 0; i < n; i++)
		gen_case(x, base + i, &cases[i]);
	rc = cd_native_start(x->nat, cases, n);
	if (rc)
		return rc;
	if (x->self)
		rc = cd_native_run(x->self, cases, emu, n);
	else
		for (unsigned i = 0; i < n; i++)
			engine_run(x, &cases[i], &emu[i]);
	if (rc)
		return rc;
	rc = cd_native_wait(x->nat, nat, n);
	if (rc)
		return rc;
	for (unsigned i = 0; i < n; i++)
		account(x, base + i, &cases[i], &nat[i], &emu[i]);
	return 0;
}

/*
 * Host behaviour the README documents where the manuals leave room, pinned:
 * the host must still do it (a different host would say so here first) and
 * the engine must agree field by field. Registers are set by the code itself.
 */
static int pinned_test(struct ctx *x)
{
#define NC 0, 0, 0, 0, 0, 0, 0, 0x80 /* imm64 0x8000000000000000: non-canonical */
	static const struct {
		const char *name;
		uint8_t code[24];
		unsigned len;
		bool x87_pending;
		int outcome, vector;
		unsigned rip_off;
	} t[] = {
		/* mov rbp, NC; ds cmpxchg8b [rbp+0]: the ignored DS keeps SS */
		{ "ds cmpxchg8b [rbp] non-canonical: #SS(0)",
		  { 0x48, 0xbd, NC, 0x3e, 0x0f, 0xc7, 0x4d, 0x00 }, 15, false, CD_EXC, 12, 10 },
		/* mov rbp, NC; gs cmpxchg8b [rbp+0]: GS is not the stack */
		{ "gs cmpxchg8b [rbp] non-canonical: #GP(0)",
		  { 0x48, 0xbd, NC, 0x65, 0x0f, 0xc7, 0x4d, 0x00 }, 15, false, CD_EXC, 13, 10 },
		/* mov rbp, NC; xor eax, eax; cmpxchg8b [rax+rbp]: RBP as index is DS */
		{ "cmpxchg8b [rax+rbp] non-canonical: #GP(0)",
		  { 0x48, 0xbd, NC, 0x31, 0xc0, 0x0f, 0xc7, 0x0c, 0x28 }, 16, false, CD_EXC, 13, 12 },
		/* mov rbp, NC+8; cmpxchg16b [rbp+0]: alignment is checked first */
		{ "cmpxchg16b [rbp] misaligned non-canonical: #GP(0)",
		  { 0x48, 0xbd, 8, 0, 0, 0, 0, 0, 0, 0x80, 0x48, 0x0f, 0xc7, 0x4d, 0x00 }, 15, false,
		  CD_EXC, 13, 10 },
		/* mov rbp, NC; lock xadd [rbp+0], ecx */
		{ "lock xadd [rbp] non-canonical: #SS(0)",
		  { 0x48, 0xbd, NC, 0xf0, 0x0f, 0xc1, 0x4d, 0x00 }, 15, false, CD_EXC, 12, 10 },
		/* mov rbx, NC; ss xchg [rbx], eax: the ignored SS does not make it #SS */
		{ "ss xchg [rbx] non-canonical: #GP(0)",
		  { 0x48, 0xbb, NC, 0x36, 0x87, 0x03 }, 13, false, CD_EXC, 13, 10 },
		/* mov rbp, NC; fxrstor [rbp+7]: canonical before alignment */
		{ "fxrstor [rbp+7] non-canonical: #SS(0)",
		  { 0x48, 0xbd, NC, 0x0f, 0xae, 0x4d, 0x07 }, 14, false, CD_EXC, 12, 10 },
		/* mov rax, NC; fxsave [rax+7] */
		{ "fxsave [rax+7] non-canonical: #GP(0)",
		  { 0x48, 0xb8, NC, 0x0f, 0xae, 0x40, 0x07 }, 14, false, CD_EXC, 13, 10 },
		/* cvtpi2ps xmm0, [data]: no #MF, no MMX transition */
		{ "cvtpi2ps xmm, m64 with x87 exception pending: runs",
		  { 0x0f, 0x2a, 0x04, 0x25, 0x00, 0x00, 0x10, 0x10 }, 8, true, CD_DONE, 0, 8 },
		/* cvtpi2pd xmm0, [data] */
		{ "cvtpi2pd xmm, m64 with x87 exception pending: runs",
		  { 0x66, 0x0f, 0x2a, 0x04, 0x25, 0x00, 0x00, 0x10, 0x10 }, 9, true, CD_DONE, 0, 9 },
		/* cvtpi2ps xmm0, mm0 */
		{ "cvtpi2ps xmm, mm with x87 exception pending: #MF",
		  { 0x0f, 0x2a, 0xc0 }, 3, true, CD_EXC, 16, 0 },
		/* cvtps2pi mm0, [data]: the MMX destination waits */
		{ "cvtps2pi mm, m64 with x87 exception pending: #MF",
		  { 0x0f, 0x2d, 0x04, 0x25, 0x00, 0x00, 0x10, 0x10 }, 8, true, CD_EXC, 16, 0 },
	};
#undef NC
	static struct cd_case c;
	static struct cd_result nat, emu;
	struct cd_diff d;
	struct cd_rng rng;
	int bad = 0;

	cd_rng_seed(&rng, 13);
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cd_gen_single(&rng, 0, &c);
		memcpy(c.code, t[i].code, t[i].len);
		c.code_len = t[i].len;
		c.nunits = 0;
		if (t[i].x87_pending) {
			/* IE unmasked and raised: the next waiting x87/MMX
			 * instruction takes #MF. */
			c.in.fx[FX_FCW] = 0x7e;
			c.in.fx[FX_FCW + 1] = 0x03;
			c.in.fx[FX_FSW] = 0x81;
			c.in.fx[FX_FSW + 1] = 0x80;
			c.in.fx[FX_FTW] = 0;
		}
		if (cd_native_run(x->nat, &c, &nat, 1))
			return 2;
		engine_run(x, &c, &emu);
		if (nat.outcome != t[i].outcome ||
		    (nat.outcome == CD_EXC && (nat.vector != t[i].vector || nat.err != 0)) ||
		    nat.out.rip != CD_TEST_ADDR + t[i].rip_off) {
			printf("pinned FAIL (host changed) %s: ", t[i].name);
			cd_print_result(stdout, "host", &nat);
			bad++;
			continue;
		}
		if (!cd_compare(&c, &nat, &emu, &d)) {
			printf("pinned FAIL (engine) %s:\n", t[i].name);
			cd_print_result(stdout, "host  ", &nat);
			cd_print_result(stdout, "engine", &emu);
			cd_print_diff(stdout, &d);
			bad++;
			continue;
		}
		printf("pinned ok: %s\n", t[i].name);
	}
	return bad;
}

/* The comparison must catch planted differences and excuse only cited flags. */
static int comparator_test(struct ctx *x)
{
	static struct cd_case c;
	static struct cd_result a, b;
	struct cd_diff d;
	struct cd_rng rng;
	int bad = 0, t_and = -1;

	for (unsigned t = 0; t < cd_ntemplates; t++)
		if (!strcmp(cd_templates[t].name, "and r/m,r"))
			t_and = (int)t;
	cd_rng_seed(&rng, 11);
	do
		cd_gen_single(&rng, (unsigned)t_and, &c);
	while (c.code[c.code_len - 1] < 0xc0 && c.units[0].mem_target == 0);
	if (cd_native_run(x->nat, &c, &a, 1))
		return 1;
	b = a;
	bad += !cd_compare(&c, &a, &b, &d);
	b.out.rflags ^= CD_AF; /* undefined after AND (SDM Vol 2, AND) */
	bad += !cd_compare(&c, &a, &b, &d);
	b.out.rflags ^= CD_CF; /* defined: cleared */
	bad += cd_compare(&c, &a, &b, &d) || strcmp(d.field[0], "rflags");
	b = a;
	b.out.gpr[9] ^= 1ull << 63;
	bad += cd_compare(&c, &a, &b, &d) || strcmp(d.field[0], "r9");
	b = a;
	b.stack[100] ^= 1;
	bad += cd_compare(&c, &a, &b, &d);
	b = a;
	b.out.fx[FX_XMM(15) + 3] ^= 0x10;
	bad += cd_compare(&c, &a, &b, &d) || strcmp(d.field[0], "xmm15");
	b = a;
	b.out.fx[FX_ST(7) + 9] ^= 0x80;
	bad += cd_compare(&c, &a, &b, &d) || strcmp(d.field[0], "st7");
	b = a;
	b.outcome = CD_EXC;
	b.vector = 13;
	bad += cd_compare(&c, &a, &b, &d) || cd_is_unimplemented(&a, &b);
	b.vector = 6;
	bad += !cd_is_unimplemented(&a, &b);
	/* RCPPS: within 1.5*2^-12 of 1/x is accepted, further off is not */
	{
		int t_rcp = -1;
		float three = 3.0f, v;
		uint32_t bits;

		for (unsigned t = 0; t < cd_ntemplates; t++)
			if (!strcmp(cd_templates[t].name, "rcpps"))
				t_rcp = (int)t;
		cd_gen_single(&rng, (unsigned)t_rcp, &c);
		memcpy(c.code, "\x0f\x53\xc1", 3); /* rcpps xmm0, xmm1 */
		c.code_len = 3;
		c.nunits = 1;
		c.units[0].off = 0;
		c.units[0].len = 3;
		c.units[0].mem_target = 0;
		for (int l = 0; l < 4; l++)
			memcpy(c.in.fx + FX_XMM(1) + 4 * l, &three, 4);
		c.in.fx[FX_MXCSR] = 0x80;
		c.in.fx[FX_MXCSR + 1] = 0x1f;
		if (cd_native_run(x->nat, &c, &a, 1))
			return 1;
		b = a;
		memcpy(&v, b.out.fx + FX_XMM(0), 4);
		v = 1.0f / 3.0f;
		memcpy(b.out.fx + FX_XMM(0), &v, 4); /* the exact quotient: within the bound */
		bad += !cd_compare(&c, &a, &b, &d);
		memcpy(&bits, &v, 4);
		bits += 1u << 12; /* 2^-11 relative: outside */
		memcpy(b.out.fx + FX_XMM(0), &bits, 4);
		bad += cd_compare(&c, &a, &b, &d) || strcmp(d.field[0], "xmm0");
	}
	printf("harness %s: comparator catches planted differences\n", bad ? "FAIL" : "ok");
	return bad;
}

/*
 * Checks of the native runner itself on hand-made cases with known outcomes:
 * a loop must time out, faults must map to the right vector and RIP, and
 * the state must come back exactly.
 */
static int harness_test(struct ctx *x)
{
	static const struct {
		const char *name;
		uint8_t code[16];
		unsigned len;
		int outcome, vector;
		unsigned rip_off;
	} t[] = {
		{ "jmp $ (loop)", { 0xeb, 0xfe }, 2, CD_TIMEOUT, 0, 0 },
		{ "ud2", { 0x90, 0x0f, 0x0b }, 3, CD_EXC, 6, 1 },
		{ "div by zero", { 0x48, 0x31, 0xc9, 0x48, 0xf7, 0xf1 }, 6, CD_EXC, 0, 3 },
		{ "load from 0", { 0x48, 0x31, 0xc0, 0x48, 0x8b, 0x00 }, 6, CD_MEMFAULT, 0, 3 },
		{ "non-canonical", { 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x8b, 0x00 }, 12, CD_EXC, 13, 10 },
		{ "int3 (trap)", { 0xcc }, 1, CD_EXC, 3, 1 },
		{ "add rax, 1", { 0x48, 0x83, 0xc0, 0x01 }, 4, CD_DONE, 0, 4 },
		{ "push to bad rsp", { 0x48, 0x31, 0xe4, 0x50 }, 4, CD_MEMFAULT, 0, 3 },
	};
	static struct cd_case c;
	static struct cd_result r;
	struct cd_rng rng;
	int bad = 0;

	cd_rng_seed(&rng, 7);
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cd_gen_single(&rng, 0, &c);
		memcpy(c.code, t[i].code, t[i].len);
		c.code_len = t[i].len;
		c.nunits = 0;
		c.in.gpr[0] = 41;
		if (cd_native_run(x->nat, &c, &r, 1))
			return 2;
		if (r.outcome != t[i].outcome || (r.outcome == CD_EXC && r.vector != t[i].vector) ||
		    (r.outcome != CD_TIMEOUT && r.out.rip != CD_TEST_ADDR + t[i].rip_off)) {
			printf("harness FAIL %s: ", t[i].name);
			cd_print_result(stdout, "host", &r);
			bad++;
			continue;
		}
		if (i == 6 && (r.out.gpr[0] != 42 || memcmp(r.data, c.data, CD_DATA_SIZE) ||
			       memcmp(r.out.fx + FX_XMM(0), c.in.fx + FX_XMM(0), 256) ||
			       memcmp(r.out.fx, c.in.fx, 4) || r.out.gpr[15] != c.in.gpr[15])) {
			printf("harness FAIL: state not carried through\n");
			bad++;
			continue;
		}
		printf("harness ok: %s\n", t[i].name);
	}
	bad += comparator_test(x);
	bad += pinned_test(x);
	return bad ? 1 : 0;
}

static int run_only(struct ctx *x)
{
	static struct cd_case c;
	static struct cd_result nat, emu;
	struct cd_diff d;
	bool ok;

	if (!x->long_mode && (uint64_t)x->only >= x->cases - x->cases / 4) {
		/* Sequences draw from the templates that passed the single cases
		 * before them: replay those first (quietly). */
		unsigned keep = x->max_print;
		uint64_t singles = x->cases - x->cases / 4;

		x->max_print = 0;
		for (uint64_t base = 0; base < singles; base += BATCH)
			if (run_batch(x, base, (unsigned)(singles - base < BATCH ? singles - base : BATCH)))
				return 2;
		x->max_print = keep;
	} else if (x->long_mode && x->only % 4 == 3) {
		/* A --long sequence draws from the templates whose single cases
		 * passed before it (seq_ready): replay the run up to it. */
		unsigned keep = x->max_print;
		uint64_t upto = (uint64_t)x->only;

		x->max_print = 0;
		for (uint64_t base = 0; base < upto; base += BATCH)
			if (run_batch(x, base, (unsigned)(upto - base < BATCH ? upto - base : BATCH)))
				return 2;
		x->max_print = keep;
	}
	gen_case(x, (uint64_t)x->only, &c);
	cd_print_case(stdout, &c);
	ok = run_pair(x, &c, &nat, &emu, &d);
	cd_print_result(stdout, "host  ", &nat);
	cd_print_result(stdout, "engine", &emu);
	if (cd_is_unimplemented(&nat, &emu)) {
		printf("  not implemented in the engine (#UD)\n");
		return 0;
	}
	cd_print_diff(stdout, &d);
	printf("  %s\n", ok ? "MATCH" : "MISMATCH");
	if (!ok && x->verbose)
		report_failure(x, (uint64_t)x->only, &c, &d);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "cases", required_argument, NULL, 'n' },
		{ "long", no_argument, NULL, 'L' },
		{ "hours", required_argument, NULL, 'H' },
		{ "filter", required_argument, NULL, 'f' },
		{ "report", no_argument, NULL, 'r' },
		{ "only", required_argument, NULL, 'o' },
		{ "max-print", required_argument, NULL, 'm' },
		{ "known", required_argument, NULL, 'k' },
		{ "list", no_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "self-check", no_argument, NULL, 'S' },
		{ "harness-test", no_argument, NULL, 'T' },
		{ "fpu-direct", no_argument, NULL, 'F' },
		{ "coverage", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctx *x = calloc(1, sizeof(*x));
	bool seed_given = false, htest = false;
	unsigned nf;
	int opt, rc;
	struct timespec t0, t1;
	double secs;

	if (!x)
		return 2;
	x->seed = 1;
	x->cases = 200000;
	x->only = -1;
	x->max_print = 10;
	while ((opt = getopt_long(argc, argv, "s:n:f:o:vh", lo, NULL)) != -1) {
		switch (opt) {
		case 's':
			x->seed = strtoull(optarg, NULL, 0);
			seed_given = true;
			break;
		case 'n':
			x->cases = strtoull(optarg, NULL, 0);
			break;
		case 'L':
			x->long_mode = true;
			break;
		case 'H':
			x->hours = strtod(optarg, NULL);
			break;
		case 'f':
			x->filter = optarg;
			break;
		case 'r':
			x->report = true;
			break;
		case 'o':
			x->only = (int64_t)strtoull(optarg, NULL, 0);
			break;
		case 'm':
			x->max_print = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'k':
			x->known_path = optarg;
			break;
		case 'v':
			x->verbose = true;
			break;
		case 'C':
			return cd_coverage();
		case 'F':
			x->fpu_direct = true;
			break;
		case 'T':
			htest = true;
			break;
		case 'S':
			if (cd_native_open(&x->self, BATCH))
				return 2;
			break;
		case 'l':
			for (unsigned t = 0; t < cd_ntemplates; t++)
				printf("%-12s %s\n", cd_templates[t].family, cd_templates[t].name);
			return 0;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	if (x->long_mode && !seed_given) {
		clock_gettime(CLOCK_REALTIME, &t0);
		x->seed = (uint64_t)t0.tv_sec ^ ((uint64_t)t0.tv_nsec << 20) ^ (uint64_t)getpid();
	}
	nf = cd_family_count();
	load_known(x);
	if (x->filter) {
		char *dup = strdup(x->filter);

		for (char *p = strtok(dup, ","); p; p = strtok(NULL, ","))
			if (cd_family_index(p) < 0) {
				fprintf(stderr, "cpu-diff: unknown family '%s' (see --list)\n", p);
				return 2;
			}
		free(dup);
	}
	for (unsigned f = 0; f < nf; f++) {
		bool want = x->filter ? in_filter(x->filter, cd_family_name(f)) : true;

		if (want && x->fam_known[f] && !x->filter && !x->report) {
			want = false;
			x->skipped_fam++;
		}
		x->fam_allowed[f] = want;
	}
	x->tmpl_allowed = calloc(cd_ntemplates, sizeof(bool));
	x->seq_allowed = calloc(cd_ntemplates, sizeof(bool));
	x->seq_ready = calloc(cd_ntemplates, sizeof(bool));
	x->tmpl_fail = calloc(cd_ntemplates, sizeof(uint64_t));
	x->tmpl_unimpl = calloc(cd_ntemplates, sizeof(uint64_t));
	x->tmpl_cases = calloc(cd_ntemplates, sizeof(uint64_t));
	x->list = calloc(cd_ntemplates, sizeof(unsigned));
	if (!x->tmpl_allowed || !x->seq_allowed || !x->seq_ready || !x->tmpl_fail ||
	    !x->tmpl_unimpl || !x->tmpl_cases || !x->list)
		return 2;
	for (unsigned t = 0; t < cd_ntemplates; t++) {
		x->tmpl_allowed[t] = x->fam_allowed[cd_template_family(t)];
		/* Sequences leave out units that end them on purpose, the stores of
		 * FPU images (their FOP/FIP/FDP and MXCSR_MASK bytes are not compared,
		 * see compare.c, and would flow into registers through later loads)
		 * and RCP/RSQRT (approximate by definition: checked in single cases
		 * against the manual's error bound, but would propagate). */
		x->seq_allowed[t] = x->tmpl_allowed[t] && strcmp(cd_templates[t].family, "fault") &&
				    strcmp(cd_templates[t].family, "invalid64") &&
				    strcmp(cd_templates[t].family, "priv") &&
				    strcmp(cd_templates[t].family, "sse-rcp") &&
				    strcmp(cd_templates[t].name, "fxsave") &&
				    strcmp(cd_templates[t].name, "fnstenv") &&
				    strcmp(cd_templates[t].name, "fnsave");
		if (x->tmpl_allowed[t])
			x->list[x->nlist++] = t;
	}
	if (cd_engine_init()) {
		fprintf(stderr, "cpu-diff: engine set-up failed\n");
		return 2;
	}
	rc = cd_native_open(&x->nat, BATCH);
	engine_guard_init(); /* after the fork: the child installs its own */
	if (rc) {
		fprintf(stderr, "cpu-diff: native runner: %s\n", strerror(-rc));
		return 2;
	}
	if (htest || x->only >= 0) {
		rc = htest ? harness_test(x) : run_only(x);
		cd_native_close(x->nat);
		return rc;
	}
	signal(SIGINT, on_int);
	signal(SIGTERM, on_int);
	printf("cpu-diff: seed %" PRIu64 ", %s, %u templates in %u families", x->seed,
	       x->long_mode ? "long run" : "fixed case count", x->nlist, nf);
	if (x->skipped_fam)
		printf(", %" PRIu64 " families skipped (known-failures.txt)", x->skipped_fam);
	printf("\n");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t base = 0; !stop_req && (x->long_mode || base < x->cases); base += BATCH) {
		unsigned n = BATCH;

		if (!x->long_mode && x->cases - base < n)
			n = (unsigned)(x->cases - base);
		rc = run_batch(x, base, n);
		if (rc)
			break;
		if (x->long_mode) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
			if (x->hours > 0 && secs > x->hours * 3600)
				break;
			if ((base / BATCH) % 400 == 0)
				printf("  %.0f s: %" PRIu64 " cases, %" PRIu64 " failures, %" PRIu64
				       " not implemented\n",
				       secs, x->total, x->failures, x->unimpl), fflush(stdout);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	cd_native_close(x->nat);
	cd_native_close(x->self);
	if (rc) {
		fprintf(stderr, "cpu-diff: native runner: %s\n", strerror(-rc));
		return 2;
	}
	if (x->report || x->verbose || x->failures)
		print_report(x);
	printf("cpu-diff: %" PRIu64 " cases in %.1f s (%.0f/s): %" PRIu64 " failures, %" PRIu64
	       " not implemented (engine #UD), %" PRIu64 " families skipped as known failures\n",
	       x->total, secs, (double)x->total / (secs > 0 ? secs : 1), x->failures, x->unimpl,
	       x->skipped_fam);
	if (x->host_reruns)
		printf("cpu-diff: %" PRIu64 " disagreement(s) the host did not repeat when rerun "
		       "(counted as passes)\n",
		       x->host_reruns);
	printf("cpu-diff: host outcomes: %" PRIu64 " completed, %" PRIu64 " memory faults, %" PRIu64
	       " timeouts, %" PRIu64 " harness crashes, exceptions:",
	       x->outcomes[CD_DONE], x->outcomes[CD_MEMFAULT], x->outcomes[CD_TIMEOUT],
	       x->outcomes[CD_CRASH]);
	for (int v = 0; v < 32; v++)
		if (x->vectors[v])
			printf(" %s %" PRIu64, cd_vector_name(v), x->vectors[v]);
	printf("\n");
	if (x->report)
		return 0;
	return x->failures ? 1 : 0;
}
