/* Test support: what the CPU offers by the kernel's own account (the "flags" line of
 * /proc/cpuinfo, Linux), a source independent of the engine's cpuid code in cpu.c, so that
 * the kernel tests can tell a level they must reach from one this machine lacks. */
#ifndef SEALM_TESTS_TEST_CPU_H
#define SEALM_TESTS_TEST_CPU_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether the first "flags" line of /proc/cpuinfo names flag as a whole word. -1 when the
 * file cannot be read or has no flags line (not Linux on x86: the caller decides). */
static inline int test_cpu_has_flag(const char *flag) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return -1;
    char line[8192];
    int found = -1;
    const size_t len = strlen(flag);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        found = 0;
        for (const char *p = strstr(line, flag); p != NULL; p = strstr(p + 1, flag)) {
            const char before = p == line ? ' ' : p[-1], after = p[len];
            if ((before == ' ' || before == '\t') && (after == ' ' || after == '\n' || after == '\0')) {
                found = 1;
                break;
            }
        }
        break;
    }
    fclose(f);
    return found;
}

#endif
