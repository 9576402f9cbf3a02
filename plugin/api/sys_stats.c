/* GetSysStats from what a C process has. Go's figures map as: Uptime: seconds since the
 * process started (/proc/self/stat against /proc/uptime); NumGoroutine: the process's
 * threads; Alloc: heap bytes in use (mallinfo2 uordblks + hblkhd); Sys: the resident set
 * (RSS). NumGC, TotalAlloc, Mallocs, Frees, LiveObjects and PauseTotalNs have no C
 * counterpart: 0. */
#include "api_int.h"

#include "stats_command.pb-c.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Fields 20 (num_threads) and 22 (starttime, clock ticks since boot) of /proc/self/stat. */
static int proc_stat(unsigned long *threads, unsigned long long *start_ticks)
{
    char line[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')'); /* the command name may hold spaces */
    if (p == NULL)
        return -1;
    /* after ") ": field 3 (state) onward; threads is the 18th of them, starttime the 20th */
    return sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
                         "%lu %*d %llu",
                  threads, start_ticks) == 2
               ? 0
               : -1;
}

void api_sys_stats(V2ray__Core__App__Stats__Command__SysStatsResponse *r)
{
    unsigned long threads = 0;
    unsigned long long start = 0;
    double up = 0;
    FILE *f = fopen("/proc/uptime", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &up) != 1)
            up = 0;
        fclose(f);
    }
    long hz = sysconf(_SC_CLK_TCK);
    if (proc_stat(&threads, &start) == 0) {
        r->numgoroutine = (uint32_t)threads;
        if (hz > 0 && up > (double)start / (double)hz) /* the two clocks' grains differ */
            r->uptime = (uint32_t)(up - (double)start / (double)hz);
    }
    struct mallinfo2 mi = mallinfo2();
    r->alloc = (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
    long pages = 0;
    f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%*d %ld", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    r->sys = (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}
