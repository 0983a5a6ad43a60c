/*
 * A small AML (ACPI Machine Language) byte-code writer, enough for Petrel's
 * DSDT. Encodings follow the AML grammar of the ACPI specification (6.x,
 * chapter 20).
 *
 * The writer appends to a growable buffer and latches the first error: once
 * an allocation or an argument fails, every later call is a no-op and
 * aml_finish() reports the error. Callers therefore write a whole table
 * without checking each call.
 *
 * Objects with a PkgLength (Scope, Device, Method, Package, Buffer, If, ...)
 * are written as a _begin() call, the body, and aml_end(): the length is
 * computed when the body is complete and inserted in front of it.
 */
#ifndef PETREL_ARCH_X86_AML_H
#define PETREL_ARCH_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH  16
#define AML_PKGLEN_MAX 0x0fffffffu /* 28 bits: the largest 4-byte PkgLength */

struct aml {
	uint8_t *buf;
	size_t len, cap;
	int err; /* first error (negative errno), latched */
	unsigned depth;
	struct {
		size_t start; /* offset where the PkgLength goes */
		uint8_t kind; /* which construct is open (enum in aml.c) */
	} open[AML_MAX_DEPTH];
};

void aml_init(struct aml *a);
void aml_fini(struct aml *a);
/* 0 when everything written so far is valid and all constructs are closed. */
int aml_finish(const struct aml *a);
static inline const uint8_t *aml_data(const struct aml *a)
{
	return a->buf;
}
static inline size_t aml_len(const struct aml *a)
{
	return a->len;
}

/* Raw bytes, for callers that know the encoding. */
void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_byte(struct aml *a, uint8_t b);

/* Encode a PkgLength value into out (1-4 bytes); returns the size or -E2BIG. */
int aml_pkglen_encode(uint32_t value, uint8_t out[4]);

/*
 * NameString: "\\_SB.PCI0", "^^PCI0", "GED", "_S5_". Segments shorter than
 * four characters are padded with '_'. A lone "\\" is the root (NullName).
 */
void aml_name(struct aml *a, const char *path);

/* Data objects */
void aml_int(struct aml *a, uint64_t v);       /* Zero/One/Ones or the smallest const */
void aml_byte_const(struct aml *a, uint8_t v); /* always BytePrefix */
void aml_word_const(struct aml *a, uint16_t v);
void aml_dword_const(struct aml *a, uint32_t v);
void aml_qword_const(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s); /* ASCII 0x01-0x7f only */
void aml_buffer(struct aml *a, const void *data, size_t n);
/* EISAID("PNP0A08") as a DWordConst; returns the value or 0 when malformed. */
uint32_t aml_eisaid_value(const char *id);
void aml_eisaid(struct aml *a, const char *id);
/* ToUUID("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx") as a 16-byte Buffer. */
void aml_uuid(struct aml *a, const char *uuid);

/* Named objects and scopes */
void aml_name_decl(struct aml *a, const char *name); /* Name(name, <next object>) */
void aml_name_int(struct aml *a, const char *name, uint64_t v);
void aml_name_string(struct aml *a, const char *name, const char *s);
void aml_name_eisaid(struct aml *a, const char *name, const char *id);
void aml_scope_begin(struct aml *a, const char *name);
void aml_device_begin(struct aml *a, const char *name);
void aml_method_begin(struct aml *a, const char *name, unsigned nargs, bool serialized);
void aml_package_begin(struct aml *a, unsigned nelems); /* nelems <= 255 */
void aml_buffer_begin(struct aml *a);			/* BufferSize from the body */
void aml_if_begin(struct aml *a);			/* then the predicate, then terms */
void aml_else_begin(struct aml *a);
/* Close the innermost open construct. */
void aml_end(struct aml *a);

/* Statements and expressions (operands follow as further calls) */
void aml_return(struct aml *a);		    /* Return(<next object>) */
void aml_notify(struct aml *a);		    /* Notify(<object>, <value>) */
void aml_store(struct aml *a);		    /* Store(<src>, <dst>) */
void aml_and(struct aml *a);		    /* And(<a>, <b>, <target>) */
void aml_or(struct aml *a);		    /* Or(<a>, <b>, <target>) */
void aml_lequal(struct aml *a);		    /* LEqual(<a>, <b>) */
void aml_lnot(struct aml *a);		    /* LNot(<a>) */
void aml_arg(struct aml *a, unsigned n);    /* Arg0..Arg6 */
void aml_local(struct aml *a, unsigned n);  /* Local0..Local7 */
void aml_null_target(struct aml *a);	    /* no target */
void aml_create_dword_field(struct aml *a); /* CreateDWordField(<buf>, <index>, <name>) */

/* OperationRegion(name, space, offset, len) with constant offset and length. */
#define AML_SPACE_SYSTEM_MEMORY 0x00
#define AML_SPACE_SYSTEM_IO	0x01
void aml_operation_region(struct aml *a, const char *name, uint8_t space, uint64_t offset,
			  uint64_t len);
/* Field(region, flags) { name, bits ... }: begin, aml_field_unit() each, aml_end(). */
#define AML_FIELD_ANY_ACC	 0x00
#define AML_FIELD_BYTE_ACC	 0x01
#define AML_FIELD_DWORD_ACC	 0x03
#define AML_FIELD_NO_LOCK	 0x00
#define AML_FIELD_PRESERVE	 0x00
#define AML_FIELD_WRITE_AS_ZEROS 0x40
void aml_field_begin(struct aml *a, const char *region, uint8_t flags);
void aml_field_unit(struct aml *a, const char *name, uint32_t bits);

/*
 * Resource templates: aml_rt_begin() opens a Buffer; descriptors follow;
 * aml_rt_end() appends the End Tag with its checksum and closes the Buffer.
 */
void aml_rt_begin(struct aml *a);
void aml_rt_end(struct aml *a);
void aml_rt_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align,
	       uint8_t len); /* Decode16 */
void aml_rt_fixed_io(struct aml *a, uint16_t base, uint8_t len);
void aml_rt_irq_noflags(struct aml *a, uint16_t mask); /* IRQNoFlags: bit per ISA IRQ */
void aml_rt_memory32_fixed(struct aml *a, bool rw, uint32_t base, uint32_t len);

/* Address space descriptors: general flags */
#define AML_ADDR_CONSUMER	0x01 /* clear: ResourceProducer */
#define AML_ADDR_SUB_DECODE	0x02
#define AML_ADDR_MIN_FIXED	0x04
#define AML_ADDR_MAX_FIXED	0x08
#define AML_ADDR_PRODUCER_FIXED (AML_ADDR_MIN_FIXED | AML_ADDR_MAX_FIXED)
/* resource types */
#define AML_ADDR_MEMORY 0
#define AML_ADDR_IO	1
#define AML_ADDR_BUS	2
/* type-specific flags: memory */
#define AML_MEM_RW	     0x01
#define AML_MEM_CACHEABLE    0x02
#define AML_MEM_PREFETCHABLE 0x06
/* type-specific flags: I/O */
#define AML_IO_ENTIRE_RANGE 0x03

void aml_rt_word_addr(struct aml *a, uint8_t type, uint8_t gflags, uint8_t tflags, uint16_t min,
		      uint16_t max, uint16_t translation, uint16_t len);
void aml_rt_dword_addr(struct aml *a, uint8_t type, uint8_t gflags, uint8_t tflags, uint32_t min,
		       uint32_t max, uint32_t translation, uint32_t len);
void aml_rt_qword_addr(struct aml *a, uint8_t type, uint8_t gflags, uint8_t tflags, uint64_t min,
		       uint64_t max, uint64_t translation, uint64_t len);
/* Convenience forms with producer/MinFixed/MaxFixed/PosDecode and len = max - min + 1. */
void aml_rt_word_bus(struct aml *a, uint16_t min, uint16_t max);
void aml_rt_word_io(struct aml *a, uint16_t min, uint16_t max);
void aml_rt_dword_io(struct aml *a, uint32_t min, uint32_t max);
void aml_rt_dword_memory(struct aml *a, uint32_t min, uint32_t max, bool prefetch);
void aml_rt_qword_memory(struct aml *a, uint64_t min, uint64_t max, bool prefetch);

/* Extended Interrupt descriptor flags */
#define AML_IRQ_CONSUMER   0x01
#define AML_IRQ_EDGE	   0x02
#define AML_IRQ_ACTIVE_LOW 0x04
#define AML_IRQ_SHARED	   0x08
void aml_rt_interrupt(struct aml *a, uint8_t flags, const uint32_t *gsis, unsigned n);

#endif
