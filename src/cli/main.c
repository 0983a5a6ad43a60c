/* petrel: the command-line entry point (placeholder until the CLI lands). */
#include <stdio.h>

int main(void)
{
	printf("petrel 0.1.0\n");
	return 0;
}
