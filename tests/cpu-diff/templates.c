/*
 * Encoding templates: one row per instruction form, grouped in families
 * (the unit of --filter, --report and known-failures.txt). gen.c turns a row
 * into bytes with random operand sizes, registers, memory forms and
 * immediates. Excluded on purpose (see README.md): privileged and system
 * instructions, SYSCALL/INT n, IN/OUT, CPUID, RDTSC/RDRAND, FS/GS overrides,
 * VEX/EVEX encodings.
 */
#include <string.h>

#include "cpudiff.h"

#define MR T_MODRM
#define SZ (T_MODRM | T_SZ)
#define B8 (T_MODRM | T_W8)

#define R(fam, nm, p, m, o, e, f, u) { fam, nm, p, m, o, e, f, u, NULL, 0 }
#define FIXF(fam, nm, f, ...)                                                     \
	{ fam, nm, 0, 0, 0, -1, T_FIXED | (f), 0, (const uint8_t[]){ __VA_ARGS__ }, \
	  sizeof((const uint8_t[]){ __VA_ARGS__ }) }
#define FIXB(fam, nm, u, ...) FIXF(fam, nm, 0, __VA_ARGS__)

/* The eight classic ALU operations: op r/m,r / r,r/m / acc,imm, and group 80/81/83. */
#define ALU(nm, base, ext, u)                                                     \
	R("alu", nm " r/m8,r8", 0, 0, base + 0, -1, B8, u),                        \
	R("alu", nm " r/m,r", 0, 0, base + 1, -1, SZ, u),                          \
	R("alu", nm " r8,r/m8", 0, 0, base + 2, -1, B8, u),                        \
	R("alu", nm " r,r/m", 0, 0, base + 3, -1, SZ, u),                          \
	R("alu", nm " al,imm8", 0, 0, base + 4, -1, T_W8 | T_IMM8, u),             \
	R("alu", nm " eax,imm", 0, 0, base + 5, -1, T_SZ | T_IMMZ, u),             \
	R("alu", nm " r/m8,imm8", 0, 0, 0x80, ext, B8 | T_IMM8, u),                \
	R("alu", nm " r/m,imm", 0, 0, 0x81, ext, SZ | T_IMMZ, u),                  \
	R("alu", nm " r/m,simm8", 0, 0, 0x83, ext, SZ | T_IMM8, u)

#define SHIFT(fam, nm, ext, u)                                                    \
	R(fam, nm " r/m8,1", 0, 0, 0xd0, ext, B8, u),                              \
	R(fam, nm " r/m,1", 0, 0, 0xd1, ext, SZ, u),                               \
	R(fam, nm " r/m8,cl", 0, 0, 0xd2, ext, B8 | T_CL, u),                      \
	R(fam, nm " r/m,cl", 0, 0, 0xd3, ext, SZ | T_CL, u),                       \
	R(fam, nm " r/m8,imm8", 0, 0, 0xc0, ext, B8 | T_IMM8 | T_CNT, u),          \
	R(fam, nm " r/m,imm8", 0, 0, 0xc1, ext, SZ | T_IMM8 | T_CNT, u)

/* Packed integer ops that exist as MMX (no prefix) and SSE2 (66). */
#define PI(nm, o)                                                                 \
	R("mmx-int", nm " mm", 0, 1, o, -1, MR | T_MMX, 0),                        \
	R("sse-int", nm " xmm", 0x66, 1, o, -1, MR | T_XMM | T_A16, 0)
#define PSH(nm, o)                                                                \
	R("mmx-shift", nm " mm", 0, 1, o, -1, MR | T_MMX, 0),                      \
	R("sse-shift", nm " xmm", 0x66, 1, o, -1, MR | T_XMM | T_A16, 0)
#define SSSE3(nm, o)                                                              \
	R("ssse3", nm " mm", 0, 2, o, -1, MR | T_MMX, 0),                          \
	R("ssse3", nm " xmm", 0x66, 2, o, -1, MR | T_XMM | T_A16, 0)
/* Float arithmetic in its four flavours: ps, pd, ss, sd. */
#define FP4(fam, nm, o)                                                           \
	R(fam, nm "ps", 0, 1, o, -1, MR | T_XMM | T_A16, 0),                       \
	R(fam, nm "pd", 0x66, 1, o, -1, MR | T_XMM | T_A16, 0),                    \
	R(fam, nm "ss", 0xf3, 1, o, -1, MR | T_XMM, 0),                            \
	R(fam, nm "sd", 0xf2, 1, o, -1, MR | T_XMM, 0)
#define X87M(fam, nm, o, e) R(fam, nm, 0, 0, o, e, MR | T_MEM | T_X87, 0)
#define X87R(fam, nm, o, e) R(fam, nm, 0, 0, o, e, MR | T_REG | T_X87, 0)
#define X87F(fam, nm, b1, b2) FIXB(fam, nm, 0, b1, b2)

const struct cd_template cd_templates[] = {
	ALU("add", 0x00, 0, UF_NONE),
	ALU("or", 0x08, 1, UF_LOGIC),
	ALU("adc", 0x10, 2, UF_NONE),
	ALU("sbb", 0x18, 3, UF_NONE),
	ALU("and", 0x20, 4, UF_LOGIC),
	ALU("sub", 0x28, 5, UF_NONE),
	ALU("xor", 0x30, 6, UF_LOGIC),
	ALU("cmp", 0x38, 7, UF_NONE),

	R("test", "test r/m8,r8", 0, 0, 0x84, -1, B8, UF_LOGIC),
	R("test", "test r/m,r", 0, 0, 0x85, -1, SZ, UF_LOGIC),
	R("test", "test al,imm8", 0, 0, 0xa8, -1, T_W8 | T_IMM8, UF_LOGIC),
	R("test", "test eax,imm", 0, 0, 0xa9, -1, T_SZ | T_IMMZ, UF_LOGIC),
	R("test", "test r/m8,imm8", 0, 0, 0xf6, 0, B8 | T_IMM8, UF_LOGIC),
	R("test", "test r/m,imm", 0, 0, 0xf7, 0, SZ | T_IMMZ, UF_LOGIC),
	R("test", "test(/1) r/m8,imm8", 0, 0, 0xf6, 1, B8 | T_IMM8, UF_LOGIC),
	R("test", "test(/1) r/m,imm", 0, 0, 0xf7, 1, SZ | T_IMMZ, UF_LOGIC),

	R("incdec", "inc r/m8", 0, 0, 0xfe, 0, B8, 0),
	R("incdec", "dec r/m8", 0, 0, 0xfe, 1, B8, 0),
	R("incdec", "inc r/m", 0, 0, 0xff, 0, SZ, 0),
	R("incdec", "dec r/m", 0, 0, 0xff, 1, SZ, 0),
	R("negnot", "not r/m8", 0, 0, 0xf6, 2, B8, 0),
	R("negnot", "neg r/m8", 0, 0, 0xf6, 3, B8, 0),
	R("negnot", "not r/m", 0, 0, 0xf7, 2, SZ, 0),
	R("negnot", "neg r/m", 0, 0, 0xf7, 3, SZ, 0),

	R("mul", "mul r/m8", 0, 0, 0xf6, 4, B8, UF_MUL),
	R("mul", "imul r/m8", 0, 0, 0xf6, 5, B8, UF_MUL),
	R("mul", "mul r/m", 0, 0, 0xf7, 4, SZ, UF_MUL),
	R("mul", "imul r/m", 0, 0, 0xf7, 5, SZ, UF_MUL),
	R("mul", "imul r,r/m", 0, 1, 0xaf, -1, SZ, UF_MUL),
	R("mul", "imul r,r/m,imm", 0, 0, 0x69, -1, SZ | T_IMMZ, UF_MUL),
	R("mul", "imul r,r/m,simm8", 0, 0, 0x6b, -1, SZ | T_IMM8, UF_MUL),
	R("div", "div r/m8", 0, 0, 0xf6, 6, B8, UF_DIV),
	R("div", "idiv r/m8", 0, 0, 0xf6, 7, B8, UF_DIV),
	R("div", "div r/m", 0, 0, 0xf7, 6, SZ, UF_DIV),
	R("div", "idiv r/m", 0, 0, 0xf7, 7, SZ, UF_DIV),

	SHIFT("shift", "shl", 4, UF_SHIFT),
	SHIFT("shift", "shr", 5, UF_SHIFT),
	SHIFT("shift", "sar", 7, UF_SHIFT),
	SHIFT("shift-sal6", "sal(/6)", 6, UF_SHIFT),
	SHIFT("rotate", "rol", 0, UF_ROT),
	SHIFT("rotate", "ror", 1, UF_ROT),
	SHIFT("rcx", "rcl", 2, UF_RCX),
	SHIFT("rcx", "rcr", 3, UF_RCX),
	R("shxd", "shld r/m,r,imm8", 0, 1, 0xa4, -1, SZ | T_IMM8 | T_CNT, UF_SHXD),
	R("shxd", "shld r/m,r,cl", 0, 1, 0xa5, -1, SZ | T_CL, UF_SHXD),
	R("shxd", "shrd r/m,r,imm8", 0, 1, 0xac, -1, SZ | T_IMM8 | T_CNT, UF_SHXD),
	R("shxd", "shrd r/m,r,cl", 0, 1, 0xad, -1, SZ | T_CL, UF_SHXD),

	R("mov", "mov r/m8,r8", 0, 0, 0x88, -1, B8, 0),
	R("mov", "mov r/m,r", 0, 0, 0x89, -1, SZ, 0),
	R("mov", "mov r8,r/m8", 0, 0, 0x8a, -1, B8, 0),
	R("mov", "mov r,r/m", 0, 0, 0x8b, -1, SZ, 0),
	R("mov", "mov r/m8,imm8", 0, 0, 0xc6, 0, B8 | T_IMM8, 0),
	R("mov", "mov r/m,imm", 0, 0, 0xc7, 0, SZ | T_IMMZ, 0),
	R("mov", "mov r8,imm8", 0, 0, 0xb0, -1, T_OPREG | T_W8 | T_IMM8, 0),
	R("mov", "mov r,imm", 0, 0, 0xb8, -1, T_OPREG | T_SZ | T_IMM64, 0),
	R("mov", "mov al,moffs", 0, 0, 0xa0, -1, T_W8 | T_MOFFS, 0),
	R("mov", "mov eax,moffs", 0, 0, 0xa1, -1, T_SZ | T_MOFFS, 0),
	R("mov", "mov moffs,al", 0, 0, 0xa2, -1, T_W8 | T_MOFFS, 0),
	R("mov", "mov moffs,eax", 0, 0, 0xa3, -1, T_SZ | T_MOFFS, 0),
	R("mov", "mov r/m,sreg", 0, 0, 0x8c, -1, SZ | T_EXT05, 0),
	R("movx", "movzx r,r/m8", 0, 1, 0xb6, -1, SZ, 0),
	R("movx", "movzx r,r/m16", 0, 1, 0xb7, -1, SZ, 0),
	R("movx", "movsx r,r/m8", 0, 1, 0xbe, -1, SZ, 0),
	R("movx", "movsx r,r/m16", 0, 1, 0xbf, -1, SZ, 0),
	R("movx", "movsxd r,r/m32", 0, 0, 0x63, -1, SZ, 0),
	R("lea", "lea r,m", 0, 0, 0x8d, -1, SZ | T_MEM, 0),
	R("xchg", "xchg r/m8,r8", 0, 0, 0x86, -1, B8, 0),
	R("xchg", "xchg r/m,r", 0, 0, 0x87, -1, SZ, 0),
	R("xchg", "xchg eax,r", 0, 0, 0x90, -1, T_OPREG | T_SZ, 0),
	R("cmpxchg", "cmpxchg r/m8,r8", 0, 1, 0xb0, -1, B8, 0),
	R("cmpxchg", "cmpxchg r/m,r", 0, 1, 0xb1, -1, SZ, 0),
	R("cmpxchg", "cmpxchg8b/16b m", 0, 1, 0xc7, 1, T_MODRM | T_MEM | T_NO16 | T_SZ | T_A16, 0),
	R("xadd", "xadd r/m8,r8", 0, 1, 0xc0, -1, B8, 0),
	R("xadd", "xadd r/m,r", 0, 1, 0xc1, -1, SZ, 0),
	R("bswap", "bswap r", 0, 1, 0xc8, -1, T_OPREG | T_SZ | T_NO16, 0),
	R("cmov", "cmovcc r,r/m", 0, 1, 0x40, -1, SZ | T_CC, 0),
	R("setcc", "setcc r/m8", 0, 1, 0x90, 0, B8 | T_CC, 0),
	R("bt", "bt r/m,r", 0, 1, 0xa3, -1, SZ, UF_BT),
	R("bt", "bts r/m,r", 0, 1, 0xab, -1, SZ, UF_BT),
	R("bt", "btr r/m,r", 0, 1, 0xb3, -1, SZ, UF_BT),
	R("bt", "btc r/m,r", 0, 1, 0xbb, -1, SZ, UF_BT),
	R("bt", "bt r/m,imm8", 0, 1, 0xba, 4, SZ | T_IMM8, UF_BT),
	R("bt", "bts r/m,imm8", 0, 1, 0xba, 5, SZ | T_IMM8, UF_BT),
	R("bt", "btr r/m,imm8", 0, 1, 0xba, 6, SZ | T_IMM8, UF_BT),
	R("bt", "btc r/m,imm8", 0, 1, 0xba, 7, SZ | T_IMM8, UF_BT),
	R("bsx", "bsf r,r/m", 0, 1, 0xbc, -1, SZ, UF_BSX),
	R("bsx", "bsr r,r/m", 0, 1, 0xbd, -1, SZ, UF_BSX),
	R("popcnt", "popcnt r,r/m", 0xf3, 1, 0xb8, -1, SZ, 0),
	R("lzcnt", "lzcnt r,r/m", 0xf3, 1, 0xbd, -1, SZ, UF_LZTZ),
	R("lzcnt", "tzcnt r,r/m", 0xf3, 1, 0xbc, -1, SZ, UF_LZTZ),
	R("movbe", "movbe r,m", 0, 2, 0xf0, -1, SZ | T_MEM, 0),
	R("movbe", "movbe m,r", 0, 2, 0xf1, -1, SZ | T_MEM, 0),
	R("adx", "adcx r,r/m", 0x66, 2, 0xf6, -1, MR | T_NO16, 0),
	R("adx", "adox r,r/m", 0xf3, 2, 0xf6, -1, MR | T_NO16, 0),

	FIXB("convert", "cbw", 0, 0x66, 0x98),
	FIXB("convert", "cwde", 0, 0x98),
	FIXB("convert", "cdqe", 0, 0x48, 0x98),
	FIXB("convert", "cwd", 0, 0x66, 0x99),
	FIXB("convert", "cdq", 0, 0x99),
	FIXB("convert", "cqo", 0, 0x48, 0x99),
	FIXB("flagops", "clc", 0, 0xf8),
	FIXB("flagops", "stc", 0, 0xf9),
	FIXB("flagops", "cmc", 0, 0xf5),
	FIXB("flagops", "cld", 0, 0xfc),
	FIXB("flagops", "std", 0, 0xfd),
	FIXB("flagops", "lahf", 0, 0x9f),
	FIXB("flagops", "sahf", 0, 0x9e),
	FIXF("pushf", "pushfq", T_STK, 0x9c),
	FIXF("pushf", "pushfw", T_STK, 0x66, 0x9c),
	R("pushf", "popfq", 0, 0, 0x9d, -1, T_STK, 0),
	R("pushf", "popfw", 0x66, 0, 0x9d, -1, T_STK, 0),

	R("stack", "push r", 0, 0, 0x50, -1, T_OPREG | T_SZ | T_NO64 | T_STK, 0),
	R("stack", "pop r", 0, 0, 0x58, -1, T_OPREG | T_SZ | T_NO64 | T_STK, 0),
	R("stack", "push r/m", 0, 0, 0xff, 6, SZ | T_NO64 | T_STK, 0),
	R("stack", "pop r/m", 0, 0, 0x8f, 0, SZ | T_NO64 | T_STK, 0),
	R("stack", "push imm", 0, 0, 0x68, -1, T_SZ | T_NO64 | T_IMMZ | T_STK, 0),
	R("stack", "push simm8", 0, 0, 0x6a, -1, T_SZ | T_NO64 | T_IMM8 | T_STK, 0),
	R("enter", "enter imm16,imm8", 0, 0, 0xc8, -1, T_SZ | T_NO64 | T_STK | T_ENTER, 0),
	R("enter", "leave", 0, 0, 0xc9, -1, T_SZ | T_NO64 | T_STK, 0),
	R("xlat", "xlat", 0, 0, 0xd7, -1, T_NO16 | T_SZ | T_XLAT, 0),

	R("string", "movsb", 0, 0, 0xa4, -1, T_W8 | T_REP | T_STR, 0),
	R("string", "movs", 0, 0, 0xa5, -1, T_SZ | T_REP | T_STR, 0),
	R("string", "cmpsb", 0, 0, 0xa6, -1, T_W8 | T_REP | T_STR, 0),
	R("string", "cmps", 0, 0, 0xa7, -1, T_SZ | T_REP | T_STR, 0),
	R("string", "stosb", 0, 0, 0xaa, -1, T_W8 | T_REP | T_STR, 0),
	R("string", "stos", 0, 0, 0xab, -1, T_SZ | T_REP | T_STR, 0),
	R("string", "lodsb", 0, 0, 0xac, -1, T_W8 | T_REP | T_STR, 0),
	R("string", "lods", 0, 0, 0xad, -1, T_SZ | T_REP | T_STR, 0),
	R("string", "scasb", 0, 0, 0xae, -1, T_W8 | T_REP | T_STR, 0),
	R("string", "scas", 0, 0, 0xaf, -1, T_SZ | T_REP | T_STR, 0),

	R("jcc", "jcc rel8", 0, 0, 0x70, -1, T_CC | T_REL8, 0),
	R("jcc", "jcc rel32", 0, 1, 0x80, -1, T_CC | T_REL32, 0),
	R("jmp", "jmp rel8", 0, 0, 0xeb, -1, T_REL8, 0),
	R("jmp", "jmp rel32", 0, 0, 0xe9, -1, T_REL32, 0),
	R("loop", "loopnz", 0, 0, 0xe0, -1, T_REL8 | T_SMALLCX, 0),
	R("loop", "loopz", 0, 0, 0xe1, -1, T_REL8 | T_SMALLCX, 0),
	R("loop", "loop", 0, 0, 0xe2, -1, T_REL8 | T_SMALLCX, 0),
	R("loop", "jrcxz", 0, 0, 0xe3, -1, T_REL8 | T_SMALLCX, 0),
	FIXF("callret", "call;jmp;ret", T_STK, 0xe8, 2, 0, 0, 0, 0xeb, 1, 0xc3),
	FIXF("callret", "call;jmp;ret 8", T_STK, 0xe8, 2, 0, 0, 0, 0xeb, 3, 0xc2, 8, 0),
	FIXF("callret", "call;pop", T_STK, 0xe8, 0, 0, 0, 0, 0x58),
	/* lea rax,[rip+5]; jmp/call rax; inc rax (skipped) */
	FIXF("callret", "jmp rax", 0, 0x48, 0x8d, 0x05, 5, 0, 0, 0, 0xff, 0xe0, 0x48, 0xff, 0xc0),
	FIXF("callret", "call rax", T_STK, 0x48, 0x8d, 0x05, 5, 0, 0, 0, 0xff, 0xd0, 0x48, 0xff, 0xc0),
	FIXF("stack", "push fs", T_STK, 0x0f, 0xa0),
	FIXF("stack", "push gs", T_STK, 0x0f, 0xa8),
	FIXF("stack", "pushw fs", T_STK, 0x66, 0x0f, 0xa0),

	/* Prefix corner cases: the 15-byte limit (#GP(0) beyond), REX not last
	 * (ignored), two REX (the last one counts), redundant prefixes. */
	FIXB("prefixes", "15-byte nop", 0, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
	     0x66, 0x66, 0x66, 0x66, 0x90),
	FIXB("prefixes", "16-byte nop (#GP)", 0, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
	     0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90),
	FIXB("prefixes", "16-byte add (#GP)", 0, 0x2e, 0x3e, 0x26, 0x36, 0x2e, 0x3e, 0x26, 0x36, 0x2e,
	     0x3e, 0x26, 0x36, 0x66, 0x48, 0x01, 0xc8),
	FIXB("prefixes", "rex then 66", 0, 0x48, 0x66, 0x01, 0xc8),
	FIXB("prefixes", "rex then f3", 0, 0x49, 0xf3, 0x0f, 0xb8, 0xc1),
	FIXB("prefixes", "two rex", 0, 0x48, 0x41, 0x01, 0xc8),
	FIXB("prefixes", "66 and rex.w", 0, 0x66, 0x48, 0x01, 0xc8),
	FIXB("prefixes", "66 66 imm16", 0, 0x66, 0x66, 0x05, 0x34, 0x12),
	FIXB("prefixes", "f2 f3 on add", 0, 0xf2, 0xf3, 0x01, 0xc8),
	FIXB("prefixes", "rex on byte ah", 0, 0x40, 0x88, 0xe0),
	FIXB("prefixes", "jmp to non-canonical", 0, 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0xe0),
	FIXF("prefixes", "ret to non-canonical", T_STK, 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x50, 0xc3),

	/* Self-modifying code: a store patches the next instruction, which must
	 * then run as patched (block invalidation on writes to code pages). */
	FIXB("smc", "patch imm of next", 0, 0xc6, 0x05, 1, 0, 0, 0, 0x5a, 0xb0, 0x00),
	FIXB("smc", "patch modrm of next", 0, 0xc6, 0x05, 2, 0, 0, 0, 0xc1, 0x48, 0xff, 0xc0),
	FIXB("smc", "patch opcode of next", 0, 0xc6, 0x05, 0, 0, 0, 0, 0x90, 0xcc),

	/* Privileged or I/O at CPL 3 with IOPL 0: #GP(0) on both sides. */
	FIXB("priv", "cli", 0, 0xfa),
	FIXB("priv", "sti", 0, 0xfb),
	FIXB("priv", "hlt", 0, 0xf4),
	FIXB("priv", "in al,imm8", 0, 0xe4, 0x60),
	FIXB("priv", "in eax,imm8", 0, 0xe5, 0x70),
	FIXB("priv", "out imm8,al", 0, 0xe6, 0x80),
	FIXB("priv", "out imm8,eax", 0, 0xe7, 0x80),
	FIXB("priv", "in al,dx", 0, 0xec),
	FIXB("priv", "in eax,dx", 0, 0xed),
	FIXB("priv", "out dx,al", 0, 0xee),
	FIXB("priv", "out dx,eax", 0, 0xef),
	FIXB("priv", "insb", 0, 0x6c),
	FIXB("priv", "insd", 0, 0x6d),
	FIXB("priv", "outsb", 0, 0x6e),
	FIXB("priv", "outsd", 0, 0x6f),
	FIXB("priv", "mov cr0,rax", 0, 0x0f, 0x22, 0xc0),
	FIXB("priv", "mov rax,cr0", 0, 0x0f, 0x20, 0xc0),
	FIXB("priv", "wrmsr", 0, 0x0f, 0x30),
	FIXB("priv", "rdmsr", 0, 0x0f, 0x32),
	FIXB("priv", "invd", 0, 0x0f, 0x08),
	FIXB("priv", "wbinvd", 0, 0x0f, 0x09),
	FIXB("priv", "clts", 0, 0x0f, 0x06),
	FIXB("priv", "lgdt", 0, 0x0f, 0x01, 0x10),
	FIXB("priv", "invlpg", 0, 0x0f, 0x01, 0x38),

	FIXB("nop", "nop", 0, 0x90),
	FIXB("nop", "pause", 0, 0xf3, 0x90),
	R("nop", "nop r/m", 0, 1, 0x1f, 0, SZ, 0),
	R("nop", "hint nop r/m", 0, 1, 0x19, -1, SZ, 0),
	R("nop", "hint nop 1c r/m", 0, 1, 0x1c, -1, SZ, 0),
	R("nop", "hint nop 1d r/m", 0, 1, 0x1d, -1, SZ, 0),
	R("nop", "hint nop 1e r/m", 0, 1, 0x1e, -1, SZ, 0),
	FIXB("fault", "ud2", 0, 0x0f, 0x0b),
	FIXB("fault", "int3", 0, 0xcc),
	FIXB("fault", "int1", 0, 0xf1),

	/* Opcodes that are invalid in 64-bit mode: both sides must raise #UD. */
	FIXB("invalid64", "push es", 0, 0x06),
	FIXB("invalid64", "pop es", 0, 0x07),
	FIXB("invalid64", "push cs", 0, 0x0e),
	FIXB("invalid64", "push ss", 0, 0x16),
	FIXB("invalid64", "push ds", 0, 0x1e),
	FIXB("invalid64", "daa", 0, 0x27),
	FIXB("invalid64", "das", 0, 0x2f),
	FIXB("invalid64", "aaa", 0, 0x37),
	FIXB("invalid64", "aas", 0, 0x3f),
	FIXB("invalid64", "pusha", 0, 0x60),
	FIXB("invalid64", "popa", 0, 0x61),
	FIXB("invalid64", "into", 0, 0xce),
	FIXB("invalid64", "aam", 0, 0xd4, 0x0a),
	FIXB("invalid64", "aad", 0, 0xd5, 0x0a),
	FIXB("invalid64", "salc", 0, 0xd6),
	FIXB("invalid64", "add (82)", 0, 0x82, 0xc0, 0x01),
	FIXB("invalid64", "jmp far", 0, 0xea, 0, 0, 0, 0, 0, 0),
	FIXB("invalid64", "call far", 0, 0x9a, 0, 0, 0, 0, 0, 0),
	FIXB("invalid64", "lock nop", 0, 0xf0, 0x90),
	FIXB("invalid64", "lock add reg", 0, 0xf0, 0x01, 0xc0),
	FIXB("invalid64", "ud0", 0, 0x0f, 0xff, 0xc0),
	FIXB("invalid64", "ud1", 0, 0x0f, 0xb9, 0xc0),

	/* x87 */
	X87M("x87-arith", "fadd m32", 0xd8, 0), X87M("x87-arith", "fmul m32", 0xd8, 1),
	X87M("x87-cmp", "fcom m32", 0xd8, 2), X87M("x87-cmp", "fcomp m32", 0xd8, 3),
	X87M("x87-arith", "fsub m32", 0xd8, 4), X87M("x87-arith", "fsubr m32", 0xd8, 5),
	X87M("x87-arith", "fdiv m32", 0xd8, 6), X87M("x87-arith", "fdivr m32", 0xd8, 7),
	X87R("x87-arith", "fadd st,st(i)", 0xd8, 0), X87R("x87-arith", "fmul st,st(i)", 0xd8, 1),
	X87R("x87-cmp", "fcom st(i)", 0xd8, 2), X87R("x87-cmp", "fcomp st(i)", 0xd8, 3),
	X87R("x87-arith", "fsub st,st(i)", 0xd8, 4), X87R("x87-arith", "fsubr st,st(i)", 0xd8, 5),
	X87R("x87-arith", "fdiv st,st(i)", 0xd8, 6), X87R("x87-arith", "fdivr st,st(i)", 0xd8, 7),
	X87M("x87-ldst", "fld m32", 0xd9, 0), X87M("x87-ldst", "fst m32", 0xd9, 2),
	X87M("x87-ldst", "fstp m32", 0xd9, 3), X87M("x87-env", "fldenv", 0xd9, 4),
	X87M("x87-ctl", "fldcw", 0xd9, 5), X87M("x87-env", "fnstenv", 0xd9, 6),
	X87M("x87-ctl", "fnstcw", 0xd9, 7),
	X87R("x87-ldst", "fld st(i)", 0xd9, 0), X87R("x87-ldst", "fxch st(i)", 0xd9, 1),
	X87F("x87-misc", "fnop", 0xd9, 0xd0), X87F("x87-misc", "fchs", 0xd9, 0xe0),
	X87F("x87-misc", "fabs", 0xd9, 0xe1), X87F("x87-cmp", "ftst", 0xd9, 0xe4),
	X87F("x87-cmp", "fxam", 0xd9, 0xe5), X87F("x87-const", "fld1", 0xd9, 0xe8),
	X87F("x87-const", "fldl2t", 0xd9, 0xe9), X87F("x87-const", "fldl2e", 0xd9, 0xea),
	X87F("x87-const", "fldpi", 0xd9, 0xeb), X87F("x87-const", "fldlg2", 0xd9, 0xec),
	X87F("x87-const", "fldln2", 0xd9, 0xed), X87F("x87-const", "fldz", 0xd9, 0xee),
	X87F("x87-trans", "f2xm1", 0xd9, 0xf0), X87F("x87-trans", "fyl2x", 0xd9, 0xf1),
	X87F("x87-trans", "fptan", 0xd9, 0xf2), X87F("x87-trans", "fpatan", 0xd9, 0xf3),
	X87F("x87-misc", "fxtract", 0xd9, 0xf4), X87F("x87-misc", "fprem1", 0xd9, 0xf5),
	X87F("x87-misc", "fdecstp", 0xd9, 0xf6), X87F("x87-misc", "fincstp", 0xd9, 0xf7),
	X87F("x87-misc", "fprem", 0xd9, 0xf8), X87F("x87-trans", "fyl2xp1", 0xd9, 0xf9),
	X87F("x87-arith", "fsqrt", 0xd9, 0xfa), X87F("x87-trans", "fsincos", 0xd9, 0xfb),
	X87F("x87-misc", "frndint", 0xd9, 0xfc), X87F("x87-misc", "fscale", 0xd9, 0xfd),
	X87F("x87-trans", "fsin", 0xd9, 0xfe), X87F("x87-trans", "fcos", 0xd9, 0xff),
	X87M("x87-arith", "fiadd m32", 0xda, 0), X87M("x87-arith", "fimul m32", 0xda, 1),
	X87M("x87-cmp", "ficom m32", 0xda, 2), X87M("x87-cmp", "ficomp m32", 0xda, 3),
	X87M("x87-arith", "fisub m32", 0xda, 4), X87M("x87-arith", "fisubr m32", 0xda, 5),
	X87M("x87-arith", "fidiv m32", 0xda, 6), X87M("x87-arith", "fidivr m32", 0xda, 7),
	X87R("fcmov", "fcmovb", 0xda, 0), X87R("fcmov", "fcmove", 0xda, 1),
	X87R("fcmov", "fcmovbe", 0xda, 2), X87R("fcmov", "fcmovu", 0xda, 3),
	X87F("x87-cmp", "fucompp", 0xda, 0xe9),
	X87M("x87-ldst", "fild m32", 0xdb, 0), X87M("x87-ldst", "fisttp m32", 0xdb, 1),
	X87M("x87-ldst", "fist m32", 0xdb, 2), X87M("x87-ldst", "fistp m32", 0xdb, 3),
	X87M("x87-ldst", "fld m80", 0xdb, 5), X87M("x87-ldst", "fstp m80", 0xdb, 7),
	X87R("fcmov", "fcmovnb", 0xdb, 0), X87R("fcmov", "fcmovne", 0xdb, 1),
	X87R("fcmov", "fcmovnbe", 0xdb, 2), X87R("fcmov", "fcmovnu", 0xdb, 3),
	X87F("x87-ctl", "fnclex", 0xdb, 0xe2), X87F("x87-ctl", "fninit", 0xdb, 0xe3),
	X87R("x87-cmp", "fucomi st(i)", 0xdb, 5), X87R("x87-cmp", "fcomi st(i)", 0xdb, 6),
	X87M("x87-arith", "fadd m64", 0xdc, 0), X87M("x87-arith", "fmul m64", 0xdc, 1),
	X87M("x87-cmp", "fcom m64", 0xdc, 2), X87M("x87-cmp", "fcomp m64", 0xdc, 3),
	X87M("x87-arith", "fsub m64", 0xdc, 4), X87M("x87-arith", "fsubr m64", 0xdc, 5),
	X87M("x87-arith", "fdiv m64", 0xdc, 6), X87M("x87-arith", "fdivr m64", 0xdc, 7),
	X87R("x87-arith", "fadd st(i),st", 0xdc, 0), X87R("x87-arith", "fmul st(i),st", 0xdc, 1),
	X87R("x87-arith", "fsubr st(i),st", 0xdc, 4), X87R("x87-arith", "fsub st(i),st", 0xdc, 5),
	X87R("x87-arith", "fdivr st(i),st", 0xdc, 6), X87R("x87-arith", "fdiv st(i),st", 0xdc, 7),
	X87M("x87-ldst", "fld m64", 0xdd, 0), X87M("x87-ldst", "fisttp m64", 0xdd, 1),
	X87M("x87-ldst", "fst m64", 0xdd, 2), X87M("x87-ldst", "fstp m64", 0xdd, 3),
	X87M("x87-env", "frstor", 0xdd, 4), X87M("x87-env", "fnsave", 0xdd, 6),
	X87M("x87-ctl", "fnstsw m16", 0xdd, 7),
	X87R("x87-misc", "ffree st(i)", 0xdd, 0), X87R("x87-ldst", "fst st(i)", 0xdd, 2),
	X87R("x87-ldst", "fstp st(i)", 0xdd, 3), X87R("x87-cmp", "fucom st(i)", 0xdd, 4),
	X87R("x87-cmp", "fucomp st(i)", 0xdd, 5),
	X87M("x87-arith", "fiadd m16", 0xde, 0), X87M("x87-arith", "fimul m16", 0xde, 1),
	X87M("x87-cmp", "ficom m16", 0xde, 2), X87M("x87-cmp", "ficomp m16", 0xde, 3),
	X87M("x87-arith", "fisub m16", 0xde, 4), X87M("x87-arith", "fisubr m16", 0xde, 5),
	X87M("x87-arith", "fidiv m16", 0xde, 6), X87M("x87-arith", "fidivr m16", 0xde, 7),
	X87R("x87-arith", "faddp", 0xde, 0), X87R("x87-arith", "fmulp", 0xde, 1),
	X87F("x87-cmp", "fcompp", 0xde, 0xd9),
	X87R("x87-arith", "fsubrp", 0xde, 4), X87R("x87-arith", "fsubp", 0xde, 5),
	X87R("x87-arith", "fdivrp", 0xde, 6), X87R("x87-arith", "fdivp", 0xde, 7),
	X87M("x87-ldst", "fild m16", 0xdf, 0), X87M("x87-ldst", "fisttp m16", 0xdf, 1),
	X87M("x87-ldst", "fist m16", 0xdf, 2), X87M("x87-ldst", "fistp m16", 0xdf, 3),
	X87M("x87-ldst", "fbld m80", 0xdf, 4), X87M("x87-ldst", "fild m64", 0xdf, 5),
	X87M("x87-ldst", "fbstp m80", 0xdf, 6), X87M("x87-ldst", "fistp m64", 0xdf, 7),
	X87F("x87-ctl", "fnstsw ax", 0xdf, 0xe0),
	X87R("x87-cmp", "fucomip st(i)", 0xdf, 5), X87R("x87-cmp", "fcomip st(i)", 0xdf, 6),
	FIXB("x87-ctl", "fwait", 0, 0x9b),

	/* MMX */
	R("mmx-move", "movd mm,r/m32", 0, 1, 0x6e, -1, MR | T_MMX | T_GPRRM, 0),
	R("mmx-move", "movq mm,r/m64", 0, 1, 0x6e, -1, MR | T_MMX | T_GPRRM | T_REXW, 0),
	R("mmx-move", "movd r/m32,mm", 0, 1, 0x7e, -1, MR | T_MMX | T_GPRRM, 0),
	R("mmx-move", "movq r/m64,mm", 0, 1, 0x7e, -1, MR | T_MMX | T_GPRRM | T_REXW, 0),
	R("mmx-move", "movq mm,mm/m64", 0, 1, 0x6f, -1, MR | T_MMX, 0),
	R("mmx-move", "movq mm/m64,mm", 0, 1, 0x7f, -1, MR | T_MMX, 0),
	R("mmx-move", "movntq m64,mm", 0, 1, 0xe7, -1, MR | T_MMX | T_MEM, 0),
	R("mmx-move", "pshufw", 0, 1, 0x70, -1, MR | T_MMX | T_IMM8, 0),
	R("mmx-move", "pinsrw mm", 0, 1, 0xc4, -1, MR | T_MMX | T_GPRRM | T_IMM8, 0),
	R("mmx-move", "pextrw r,mm", 0, 1, 0xc5, -1, MR | T_MMX | T_GPRREG | T_REG | T_IMM8, 0),
	R("mmx-move", "pmovmskb r,mm", 0, 1, 0xd7, -1, MR | T_MMX | T_GPRREG | T_REG, 0),
	R("mmx-move", "maskmovq", 0, 1, 0xf7, -1, MR | T_MMX | T_REG | T_MASKMOV, 0),
	FIXB("mmx-move", "emms", 0, 0x0f, 0x77),
	PI("punpcklbw", 0x60), PI("punpcklwd", 0x61), PI("punpckldq", 0x62),
	PI("packsswb", 0x63), PI("pcmpgtb", 0x64), PI("pcmpgtw", 0x65), PI("pcmpgtd", 0x66),
	PI("packuswb", 0x67), PI("punpckhbw", 0x68), PI("punpckhwd", 0x69),
	PI("punpckhdq", 0x6a), PI("packssdw", 0x6b),
	PI("pcmpeqb", 0x74), PI("pcmpeqw", 0x75), PI("pcmpeqd", 0x76),
	PI("paddq", 0xd4), PI("pmullw", 0xd5), PI("psubusb", 0xd8), PI("psubusw", 0xd9),
	PI("pminub", 0xda), PI("pand", 0xdb), PI("paddusb", 0xdc), PI("paddusw", 0xdd),
	PI("pmaxub", 0xde), PI("pandn", 0xdf), PI("pavgb", 0xe0), PI("pavgw", 0xe3),
	PI("pmulhuw", 0xe4), PI("pmulhw", 0xe5), PI("psubsb", 0xe8), PI("psubsw", 0xe9),
	PI("pminsw", 0xea), PI("por", 0xeb), PI("paddsb", 0xec), PI("paddsw", 0xed),
	PI("pmaxsw", 0xee), PI("pxor", 0xef), PI("pmuludq", 0xf4), PI("pmaddwd", 0xf5),
	PI("psadbw", 0xf6), PI("psubb", 0xf8), PI("psubw", 0xf9), PI("psubd", 0xfa),
	PI("psubq", 0xfb), PI("paddb", 0xfc), PI("paddw", 0xfd), PI("paddd", 0xfe),
	PSH("psrlw", 0xd1), PSH("psrld", 0xd2), PSH("psrlq", 0xd3), PSH("psraw", 0xe1),
	PSH("psrad", 0xe2), PSH("psllw", 0xf1), PSH("pslld", 0xf2), PSH("psllq", 0xf3),
	R("mmx-shift", "psrlw mm,imm8", 0, 1, 0x71, 2, MR | T_MMX | T_REG | T_IMM8, 0),
	R("mmx-shift", "psraw mm,imm8", 0, 1, 0x71, 4, MR | T_MMX | T_REG | T_IMM8, 0),
	R("mmx-shift", "psllw mm,imm8", 0, 1, 0x71, 6, MR | T_MMX | T_REG | T_IMM8, 0),
	R("mmx-shift", "psrld mm,imm8", 0, 1, 0x72, 2, MR | T_MMX | T_REG | T_IMM8, 0),
	R("mmx-shift", "psrad mm,imm8", 0, 1, 0x72, 4, MR | T_MMX | T_REG | T_IMM8, 0),
	R("mmx-shift", "pslld mm,imm8", 0, 1, 0x72, 6, MR | T_MMX | T_REG | T_IMM8, 0),
	R("mmx-shift", "psrlq mm,imm8", 0, 1, 0x73, 2, MR | T_MMX | T_REG | T_IMM8, 0),
	R("mmx-shift", "psllq mm,imm8", 0, 1, 0x73, 6, MR | T_MMX | T_REG | T_IMM8, 0),
	R("sse-shift", "psrlw xmm,imm8", 0x66, 1, 0x71, 2, MR | T_XMM | T_REG | T_IMM8, 0),
	R("sse-shift", "psraw xmm,imm8", 0x66, 1, 0x71, 4, MR | T_XMM | T_REG | T_IMM8, 0),
	R("sse-shift", "psllw xmm,imm8", 0x66, 1, 0x71, 6, MR | T_XMM | T_REG | T_IMM8, 0),
	R("sse-shift", "psrld xmm,imm8", 0x66, 1, 0x72, 2, MR | T_XMM | T_REG | T_IMM8, 0),
	R("sse-shift", "psrad xmm,imm8", 0x66, 1, 0x72, 4, MR | T_XMM | T_REG | T_IMM8, 0),
	R("sse-shift", "pslld xmm,imm8", 0x66, 1, 0x72, 6, MR | T_XMM | T_REG | T_IMM8, 0),
	R("sse-shift", "psrlq xmm,imm8", 0x66, 1, 0x73, 2, MR | T_XMM | T_REG | T_IMM8, 0),
	R("sse-shift", "psrldq xmm,imm8", 0x66, 1, 0x73, 3, MR | T_XMM | T_REG | T_IMM8, 0),
	R("sse-shift", "psllq xmm,imm8", 0x66, 1, 0x73, 6, MR | T_XMM | T_REG | T_IMM8, 0),
	R("sse-shift", "pslldq xmm,imm8", 0x66, 1, 0x73, 7, MR | T_XMM | T_REG | T_IMM8, 0),
	SSSE3("pshufb", 0x00), SSSE3("phaddw", 0x01), SSSE3("phaddd", 0x02),
	SSSE3("phaddsw", 0x03), SSSE3("pmaddubsw", 0x04), SSSE3("phsubw", 0x05),
	SSSE3("phsubd", 0x06), SSSE3("phsubsw", 0x07), SSSE3("psignb", 0x08),
	SSSE3("psignw", 0x09), SSSE3("psignd", 0x0a), SSSE3("pmulhrsw", 0x0b),
	SSSE3("pabsb", 0x1c), SSSE3("pabsw", 0x1d), SSSE3("pabsd", 0x1e),
	R("ssse3", "palignr mm", 0, 3, 0x0f, -1, MR | T_MMX | T_IMM8, 0),
	R("ssse3", "palignr xmm", 0x66, 3, 0x0f, -1, MR | T_XMM | T_A16 | T_IMM8, 0),

	/* SSE/SSE2/SSE3 moves */
	R("sse-move", "movups", 0, 1, 0x10, -1, MR | T_XMM, 0),
	R("sse-move", "movupd", 0x66, 1, 0x10, -1, MR | T_XMM, 0),
	R("sse-move", "movss", 0xf3, 1, 0x10, -1, MR | T_XMM, 0),
	R("sse-move", "movsd", 0xf2, 1, 0x10, -1, MR | T_XMM, 0),
	R("sse-move", "movups st", 0, 1, 0x11, -1, MR | T_XMM, 0),
	R("sse-move", "movupd st", 0x66, 1, 0x11, -1, MR | T_XMM, 0),
	R("sse-move", "movss st", 0xf3, 1, 0x11, -1, MR | T_XMM, 0),
	R("sse-move", "movsd st", 0xf2, 1, 0x11, -1, MR | T_XMM, 0),
	R("sse-move", "movlps/movhlps", 0, 1, 0x12, -1, MR | T_XMM, 0),
	R("sse-move", "movlpd", 0x66, 1, 0x12, -1, MR | T_XMM | T_MEM, 0),
	R("sse3", "movddup", 0xf2, 1, 0x12, -1, MR | T_XMM, 0),
	R("sse3", "movsldup", 0xf3, 1, 0x12, -1, MR | T_XMM | T_A16, 0),
	R("sse-move", "movlps st", 0, 1, 0x13, -1, MR | T_XMM | T_MEM, 0),
	R("sse-move", "movlpd st", 0x66, 1, 0x13, -1, MR | T_XMM | T_MEM, 0),
	R("sse-shuffle", "unpcklps", 0, 1, 0x14, -1, MR | T_XMM | T_A16, 0),
	R("sse-shuffle", "unpcklpd", 0x66, 1, 0x14, -1, MR | T_XMM | T_A16, 0),
	R("sse-shuffle", "unpckhps", 0, 1, 0x15, -1, MR | T_XMM | T_A16, 0),
	R("sse-shuffle", "unpckhpd", 0x66, 1, 0x15, -1, MR | T_XMM | T_A16, 0),
	R("sse-move", "movhps/movlhps", 0, 1, 0x16, -1, MR | T_XMM, 0),
	R("sse-move", "movhpd", 0x66, 1, 0x16, -1, MR | T_XMM | T_MEM, 0),
	R("sse3", "movshdup", 0xf3, 1, 0x16, -1, MR | T_XMM | T_A16, 0),
	R("sse-move", "movhps st", 0, 1, 0x17, -1, MR | T_XMM | T_MEM, 0),
	R("sse-move", "movhpd st", 0x66, 1, 0x17, -1, MR | T_XMM | T_MEM, 0),
	R("sse-move", "movaps", 0, 1, 0x28, -1, MR | T_XMM | T_A16, 0),
	R("sse-move", "movapd", 0x66, 1, 0x28, -1, MR | T_XMM | T_A16, 0),
	R("sse-move", "movaps st", 0, 1, 0x29, -1, MR | T_XMM | T_A16, 0),
	R("sse-move", "movapd st", 0x66, 1, 0x29, -1, MR | T_XMM | T_A16, 0),
	R("sse-move", "movntps", 0, 1, 0x2b, -1, MR | T_XMM | T_MEM | T_A16, 0),
	R("sse-move", "movntpd", 0x66, 1, 0x2b, -1, MR | T_XMM | T_MEM | T_A16, 0),
	R("sse-move", "movmskps", 0, 1, 0x50, -1, MR | T_XMM | T_GPRREG | T_REG, 0),
	R("sse-move", "movmskpd", 0x66, 1, 0x50, -1, MR | T_XMM | T_GPRREG | T_REG, 0),
	R("sse-move", "movd xmm,r/m32", 0x66, 1, 0x6e, -1, MR | T_XMM | T_GPRRM, 0),
	R("sse-move", "movq xmm,r/m64", 0x66, 1, 0x6e, -1, MR | T_XMM | T_GPRRM | T_REXW, 0),
	R("sse-move", "movd r/m32,xmm", 0x66, 1, 0x7e, -1, MR | T_XMM | T_GPRRM, 0),
	R("sse-move", "movq r/m64,xmm", 0x66, 1, 0x7e, -1, MR | T_XMM | T_GPRRM | T_REXW, 0),
	R("sse-move", "movq xmm,xmm/m64", 0xf3, 1, 0x7e, -1, MR | T_XMM, 0),
	R("sse-move", "movq xmm/m64,xmm", 0x66, 1, 0xd6, -1, MR | T_XMM, 0),
	R("sse-move", "movdqa", 0x66, 1, 0x6f, -1, MR | T_XMM | T_A16, 0),
	R("sse-move", "movdqu", 0xf3, 1, 0x6f, -1, MR | T_XMM, 0),
	R("sse-move", "movdqa st", 0x66, 1, 0x7f, -1, MR | T_XMM | T_A16, 0),
	R("sse-move", "movdqu st", 0xf3, 1, 0x7f, -1, MR | T_XMM, 0),
	R("sse-move", "movntdq", 0x66, 1, 0xe7, -1, MR | T_XMM | T_MEM | T_A16, 0),
	R("sse-move", "movnti", 0, 1, 0xc3, -1, SZ | T_NO16 | T_MEM, 0),
	R("sse3", "lddqu", 0xf2, 1, 0xf0, -1, MR | T_XMM | T_MEM, 0),
	R("sse-move", "maskmovdqu", 0x66, 1, 0xf7, -1, MR | T_XMM | T_REG | T_MASKMOV, 0),
	R("sse-move", "pmovmskb r,xmm", 0x66, 1, 0xd7, -1, MR | T_XMM | T_GPRREG | T_REG, 0),
	R("sse-move", "pinsrw xmm", 0x66, 1, 0xc4, -1, MR | T_XMM | T_GPRRM | T_IMM8, 0),
	R("sse-move", "pextrw r,xmm", 0x66, 1, 0xc5, -1, MR | T_XMM | T_GPRREG | T_REG | T_IMM8, 0),
	R("sse-move", "movq2dq", 0xf3, 1, 0xd6, -1, MR | T_XMM | T_REG | T_RMMMX, 0),
	R("sse-move", "movdq2q", 0xf2, 1, 0xd6, -1, MR | T_MMX | T_REG | T_RMXMM, 0),

	/* SSE arithmetic, compare, convert, logic, shuffle */
	FP4("sse-arith", "add", 0x58), FP4("sse-arith", "mul", 0x59),
	FP4("sse-arith", "sub", 0x5c), FP4("sse-arith", "min", 0x5d),
	FP4("sse-arith", "div", 0x5e), FP4("sse-arith", "max", 0x5f),
	FP4("sse-arith", "sqrt", 0x51),
	R("sse-rcp", "rsqrtps", 0, 1, 0x52, -1, MR | T_XMM | T_A16, 0),
	R("sse-rcp", "rsqrtss", 0xf3, 1, 0x52, -1, MR | T_XMM, 0),
	R("sse-rcp", "rcpps", 0, 1, 0x53, -1, MR | T_XMM | T_A16, 0),
	R("sse-rcp", "rcpss", 0xf3, 1, 0x53, -1, MR | T_XMM, 0),
	R("sse-cmp", "cmpps", 0, 1, 0xc2, -1, MR | T_XMM | T_A16 | T_IMM8 | T_IMM3, 0),
	R("sse-cmp", "cmppd", 0x66, 1, 0xc2, -1, MR | T_XMM | T_A16 | T_IMM8 | T_IMM3, 0),
	R("sse-cmp", "cmpss", 0xf3, 1, 0xc2, -1, MR | T_XMM | T_IMM8 | T_IMM3, 0),
	R("sse-cmp", "cmpsd", 0xf2, 1, 0xc2, -1, MR | T_XMM | T_IMM8 | T_IMM3, 0),
	R("sse-cmp", "ucomiss", 0, 1, 0x2e, -1, MR | T_XMM, 0),
	R("sse-cmp", "ucomisd", 0x66, 1, 0x2e, -1, MR | T_XMM, 0),
	R("sse-cmp", "comiss", 0, 1, 0x2f, -1, MR | T_XMM, 0),
	R("sse-cmp", "comisd", 0x66, 1, 0x2f, -1, MR | T_XMM, 0),
	R("sse-logic", "andps", 0, 1, 0x54, -1, MR | T_XMM | T_A16, 0),
	R("sse-logic", "andpd", 0x66, 1, 0x54, -1, MR | T_XMM | T_A16, 0),
	R("sse-logic", "andnps", 0, 1, 0x55, -1, MR | T_XMM | T_A16, 0),
	R("sse-logic", "andnpd", 0x66, 1, 0x55, -1, MR | T_XMM | T_A16, 0),
	R("sse-logic", "orps", 0, 1, 0x56, -1, MR | T_XMM | T_A16, 0),
	R("sse-logic", "orpd", 0x66, 1, 0x56, -1, MR | T_XMM | T_A16, 0),
	R("sse-logic", "xorps", 0, 1, 0x57, -1, MR | T_XMM | T_A16, 0),
	R("sse-logic", "xorpd", 0x66, 1, 0x57, -1, MR | T_XMM | T_A16, 0),
	R("sse-shuffle", "shufps", 0, 1, 0xc6, -1, MR | T_XMM | T_A16 | T_IMM8, 0),
	R("sse-shuffle", "shufpd", 0x66, 1, 0xc6, -1, MR | T_XMM | T_A16 | T_IMM8, 0),
	R("sse-shuffle", "pshufd", 0x66, 1, 0x70, -1, MR | T_XMM | T_A16 | T_IMM8, 0),
	R("sse-shuffle", "pshufhw", 0xf3, 1, 0x70, -1, MR | T_XMM | T_A16 | T_IMM8, 0),
	R("sse-shuffle", "pshuflw", 0xf2, 1, 0x70, -1, MR | T_XMM | T_A16 | T_IMM8, 0),
	R("sse-shuffle", "punpcklqdq", 0x66, 1, 0x6c, -1, MR | T_XMM | T_A16, 0),
	R("sse-shuffle", "punpckhqdq", 0x66, 1, 0x6d, -1, MR | T_XMM | T_A16, 0),
	R("sse3", "haddpd", 0x66, 1, 0x7c, -1, MR | T_XMM | T_A16, 0),
	R("sse3", "haddps", 0xf2, 1, 0x7c, -1, MR | T_XMM | T_A16, 0),
	R("sse3", "hsubpd", 0x66, 1, 0x7d, -1, MR | T_XMM | T_A16, 0),
	R("sse3", "hsubps", 0xf2, 1, 0x7d, -1, MR | T_XMM | T_A16, 0),
	R("sse3", "addsubpd", 0x66, 1, 0xd0, -1, MR | T_XMM | T_A16, 0),
	R("sse3", "addsubps", 0xf2, 1, 0xd0, -1, MR | T_XMM | T_A16, 0),
	R("sse-cvt", "cvtpi2ps", 0, 1, 0x2a, -1, MR | T_XMM | T_RMMMX, 0),
	R("sse-cvt", "cvtpi2pd", 0x66, 1, 0x2a, -1, MR | T_XMM | T_RMMMX, 0),
	R("sse-cvt", "cvtsi2ss", 0xf3, 1, 0x2a, -1, MR | T_XMM | T_GPRRM | T_OPTW, 0),
	R("sse-cvt", "cvtsi2sd", 0xf2, 1, 0x2a, -1, MR | T_XMM | T_GPRRM | T_OPTW, 0),
	R("sse-cvt", "cvttps2pi", 0, 1, 0x2c, -1, MR | T_MMX | T_RMXMM, 0),
	R("sse-cvt", "cvttpd2pi", 0x66, 1, 0x2c, -1, MR | T_MMX | T_RMXMM | T_A16, 0),
	R("sse-cvt", "cvttss2si", 0xf3, 1, 0x2c, -1, MR | T_XMM | T_GPRREG | T_OPTW, 0),
	R("sse-cvt", "cvttsd2si", 0xf2, 1, 0x2c, -1, MR | T_XMM | T_GPRREG | T_OPTW, 0),
	R("sse-cvt", "cvtps2pi", 0, 1, 0x2d, -1, MR | T_MMX | T_RMXMM, 0),
	R("sse-cvt", "cvtpd2pi", 0x66, 1, 0x2d, -1, MR | T_MMX | T_RMXMM | T_A16, 0),
	R("sse-cvt", "cvtss2si", 0xf3, 1, 0x2d, -1, MR | T_XMM | T_GPRREG | T_OPTW, 0),
	R("sse-cvt", "cvtsd2si", 0xf2, 1, 0x2d, -1, MR | T_XMM | T_GPRREG | T_OPTW, 0),
	R("sse-cvt", "cvtps2pd", 0, 1, 0x5a, -1, MR | T_XMM, 0),
	R("sse-cvt", "cvtpd2ps", 0x66, 1, 0x5a, -1, MR | T_XMM | T_A16, 0),
	R("sse-cvt", "cvtss2sd", 0xf3, 1, 0x5a, -1, MR | T_XMM, 0),
	R("sse-cvt", "cvtsd2ss", 0xf2, 1, 0x5a, -1, MR | T_XMM, 0),
	R("sse-cvt", "cvtdq2ps", 0, 1, 0x5b, -1, MR | T_XMM | T_A16, 0),
	R("sse-cvt", "cvtps2dq", 0x66, 1, 0x5b, -1, MR | T_XMM | T_A16, 0),
	R("sse-cvt", "cvttps2dq", 0xf3, 1, 0x5b, -1, MR | T_XMM | T_A16, 0),
	R("sse-cvt", "cvttpd2dq", 0x66, 1, 0xe6, -1, MR | T_XMM | T_A16, 0),
	R("sse-cvt", "cvtdq2pd", 0xf3, 1, 0xe6, -1, MR | T_XMM, 0),
	R("sse-cvt", "cvtpd2dq", 0xf2, 1, 0xe6, -1, MR | T_XMM | T_A16, 0),

	/* State and hints */
	R("sse-mxcsr", "ldmxcsr", 0, 1, 0xae, 2, MR | T_MEM | T_MXCSRM, 0),
	R("sse-mxcsr", "stmxcsr", 0, 1, 0xae, 3, MR | T_MEM, 0),
	R("fxsave", "fxsave", 0, 1, 0xae, 0, MR | T_MEM | T_A16 | T_BIG | T_OPTW, 0),
	R("fxsave", "fxrstor", 0, 1, 0xae, 1, MR | T_MEM | T_A16 | T_BIG | T_OPTW | T_FXIMG, 0),
	FIXB("fence", "lfence", 0, 0x0f, 0xae, 0xe8),
	FIXB("fence", "mfence", 0, 0x0f, 0xae, 0xf0),
	FIXB("fence", "sfence", 0, 0x0f, 0xae, 0xf8),
	R("fence", "clflush", 0, 1, 0xae, 7, MR | T_MEM, 0),
	R("fence", "prefetch", 0, 1, 0x18, -1, MR | T_MEM | T_EXT03, 0),
	R("fence", "prefetchw", 0, 1, 0x0d, 1, MR | T_MEM, 0),

	/* Mandatory-prefix variants that do not exist: #UD on the host. */
	R("sse-badpfx", "f2 punpcklbw", 0xf2, 1, 0x60, -1, MR | T_XMM, 0),
	R("sse-badpfx", "f3 pcmpeqb", 0xf3, 1, 0x74, -1, MR | T_XMM, 0),
	R("sse-badpfx", "f2 movaps", 0xf2, 1, 0x28, -1, MR | T_XMM, 0),
	R("sse-badpfx", "f3 andps", 0xf3, 1, 0x54, -1, MR | T_XMM, 0),
	R("sse-badpfx", "66 rsqrtps", 0x66, 1, 0x52, -1, MR | T_XMM, 0),
	R("sse-badpfx", "f2 rcpps", 0xf2, 1, 0x53, -1, MR | T_XMM, 0),
	R("sse-badpfx", "punpcklqdq mm", 0, 1, 0x6c, -1, MR | T_MMX, 0),
	R("sse-badpfx", "haddpd mm", 0, 1, 0x7c, -1, MR | T_MMX, 0),
	R("sse-badpfx", "addsubpd mm", 0, 1, 0xd0, -1, MR | T_MMX, 0),
	R("sse-badpfx", "lddqu no pfx", 0, 1, 0xf0, -1, MR | T_XMM | T_MEM, 0),
	R("sse-badpfx", "f3 paddq", 0xf3, 1, 0xd4, -1, MR | T_XMM, 0),
	R("sse-badpfx", "f2 pshufb", 0xf2, 2, 0x00, -1, MR | T_XMM, 0),
	R("sse-badpfx", "f3 palignr", 0xf3, 3, 0x0f, -1, MR | T_XMM | T_IMM8, 0),
	R("sse-badpfx", "66 emms", 0x66, 1, 0x77, -1, 0, 0),
	R("sse-badpfx", "f3 comiss", 0xf3, 1, 0x2f, -1, MR | T_XMM, 0),
	R("sse-badpfx", "f2 movmskps", 0xf2, 1, 0x50, -1, MR | T_XMM | T_GPRREG | T_REG, 0),
	R("sse-badpfx", "movq2dq mem", 0xf3, 1, 0xd6, -1, MR | T_XMM | T_MEM, 0),
	R("sse-badpfx", "ldmxcsr reg", 0, 1, 0xae, 2, MR | T_REG, 0),
};

const unsigned cd_ntemplates = sizeof(cd_templates) / sizeof(cd_templates[0]);

#define MAX_FAMILIES 128
static const char *families[MAX_FAMILIES];
static unsigned nfamilies;
static int tmpl_family[sizeof(cd_templates) / sizeof(cd_templates[0])];

static void families_init(void)
{
	if (nfamilies)
		return;
	for (unsigned t = 0; t < cd_ntemplates; t++) {
		unsigned f;

		for (f = 0; f < nfamilies; f++)
			if (!strcmp(families[f], cd_templates[t].family))
				break;
		if (f == nfamilies && nfamilies < MAX_FAMILIES)
			families[nfamilies++] = cd_templates[t].family;
		tmpl_family[t] = (int)f;
	}
}

unsigned cd_family_count(void)
{
	families_init();
	return nfamilies;
}

const char *cd_family_name(unsigned i)
{
	families_init();
	return i < nfamilies ? families[i] : "?";
}

int cd_family_index(const char *name)
{
	families_init();
	for (unsigned f = 0; f < nfamilies; f++)
		if (!strcmp(families[f], name))
			return (int)f;
	return -1;
}

int cd_template_family(unsigned t)
{
	families_init();
	return t < cd_ntemplates ? tmpl_family[t] : -1;
}
