; Prints a greeting on COM1 and powers off through ACPI.
%include "common.inc"
	PUTS `Hello from a Petrel test guest\n`
	POWEROFF
