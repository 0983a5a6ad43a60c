/* Replaced by the software CPU sources. */
int cpu_x86_placeholder__;
