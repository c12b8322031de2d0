/* Prime search for a fixed time, as sysbench's cpu test counts it: each "event" checks the
 * numbers up to 10000 for primality by trial division. Prints events per second. Linked
 * against musl, dynamically: the image's only libc is musl's. Usage: primes SECONDS */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static unsigned long event(void)
{
    unsigned long found = 0;
    for (unsigned long n = 3; n < 10000; n++) {
        unsigned long d = 2;
        while (d * d <= n && n % d)
            d++;
        found += d * d > n;
    }
    return found;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 10;
    if (seconds <= 0) {
        fprintf(stderr, "usage: primes SECONDS\n");
        return 2;
    }
    unsigned long events = 0, checksum = 0;
    double start = now(), elapsed;
    do {
        checksum += event();
        events++;
    } while ((elapsed = now() - start) < seconds);
    printf("primes below 10000 per event: %lu\n", checksum / events);
    printf("events: %lu\ntime: %.3f s\nevents per second: %.2f\n", events, elapsed, events / elapsed);
    return 0;
}
