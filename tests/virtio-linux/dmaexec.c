/*
 * Guest program for the virtio-linux devices test: runs a few bytes of code
 * in an executable page, has a virtio-blk read replace them in place (O_DIRECT,
 * so the device writes straight into that page), and runs them again. Under
 * the software CPU the second call must run the new bytes, not a decoded
 * block cached from the old ones (docs/virtio.md, "Device writes and the
 * software CPU's code cache"). Built static by the test with the host's cc.
 *
 * usage: dmaexec DEVICE OFFSET   (OFFSET a multiple of 4096; 4 KiB there are overwritten)
 * prints: dmaexec: first 0x41 then 0x42
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static const unsigned char old_code[] = { 0xb8, 0x41, 0, 0, 0, 0xc3 }; /* mov eax, 0x41; ret */
	static const unsigned char new_code[] = { 0xb8, 0x42, 0, 0, 0, 0xc3 }; /* mov eax, 0x42; ret */
	unsigned char *page, *staging;
	int fd, first = 0;
	off_t off;

	if (argc != 3)
		return 2;
	off = (off_t)strtoull(argv[2], NULL, 0);
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	if (page == MAP_FAILED || posix_memalign((void **)&staging, 4096, 4096))
		return 3;
	memcpy(page, old_code, sizeof(old_code));
	for (int i = 0; i < 3; i++) /* decoded once, then run from the cache */
		first = ((int (*)(void))page)();
	memset(staging, 0xcc, 4096);
	memcpy(staging, new_code, sizeof(new_code));
	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0 || pwrite(fd, staging, 4096, off) != 4096 || pread(fd, page, 4096, off) != 4096) {
		perror("dmaexec");
		return 4;
	}
	printf("dmaexec: first 0x%x then 0x%x\n", first, ((int (*)(void))page)());
	return 0;
}
