/*
 * busy_thru: a JACK pass-through client in C that also does a fixed amount of arithmetic each
 * cycle, the floor the live engine is compared with in benchmarks/live_xruns.py: a C client
 * whose process callback takes as long as the engine's, in the same server under the same load.
 * (jackd2's jack_thru does no work at all, so on a shared machine it is late less often than any
 * client that computes something: a stall that lands inside a callback makes it late.)
 *
 *   busy_thru --calibrate MICROSECONDS   print the --iterations that take that long here, and exit
 *   busy_thru NAME ITERATIONS            register as NAME, in_1 → out_1, connect system:capture_1 →
 *                                        in_1 and out_1 → system:playback_1, and run until SIGTERM
 *
 * Each iteration is 1024 dependent multiply-adds along a 32 KiB table (the footprint of an
 * LSTM-40's weights), so the work is a count of operations, not a time: a stall during it makes
 * the callback later, as it makes the engine's. The JACK API is declared here (libjack's
 * stable C ABI) so that no development package is needed; link with -l:libjack.so.0.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef uint32_t jack_nframes_t;
typedef struct _jack_client jack_client_t;
typedef struct _jack_port jack_port_t;
typedef int (*JackProcessCallback)(jack_nframes_t nframes, void *arg);
extern jack_client_t *jack_client_open(const char *name, int options, int *status, ...);
extern int jack_set_process_callback(jack_client_t *client, JackProcessCallback callback, void *arg);
extern jack_port_t *jack_port_register(jack_client_t *client, const char *name, const char *type,
                                       unsigned long flags, unsigned long buffer_size);
extern void *jack_port_get_buffer(jack_port_t *port, jack_nframes_t frames);
extern int jack_activate(jack_client_t *client);
extern int jack_connect(jack_client_t *client, const char *source, const char *destination);
extern const char *jack_port_name(const jack_port_t *port);
extern int jack_client_close(jack_client_t *client);

#define JACK_NO_START_SERVER 0x01
#define JACK_USE_EXACT_NAME 0x02
#define JACK_PORT_IS_INPUT 0x1
#define JACK_PORT_IS_OUTPUT 0x2
#define AUDIO_TYPE "32 bit float mono audio"
#define TABLE 8192

static float table[TABLE];
static volatile float sink;
static volatile sig_atomic_t running = 1;
static jack_port_t *in_port, *out_port;
static long iterations;

/* ``count`` iterations of 1024 dependent multiply-adds, walking round the whole table. */
static float work(long count)
{
    float acc = 0.0f;
    for (long i = 0; i < count; i++) {
        const float *row = table + (i % (TABLE / 1024)) * 1024;
        for (int k = 0; k < 1024; k++)
            acc = acc * 0.9990234375f + row[k];
    }
    return acc;
}

static int process(jack_nframes_t frames, void *arg)
{
    (void)arg;
    float *in = jack_port_get_buffer(in_port, frames);
    float *out = jack_port_get_buffer(out_port, frames);
    sink = work(iterations);
    memcpy(out, in, frames * sizeof(float));
    return 0;
}

static double seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + 1e-9 * now.tv_nsec;
}

static void stop(int signal_number)
{
    (void)signal_number;
    running = 0;
}

int main(int argc, char **argv)
{
    for (int k = 0; k < TABLE; k++)
        table[k] = (float)(k % 97) * 1e-3f;
    if (argc == 3 && strcmp(argv[1], "--calibrate") == 0) {
        double wanted = atof(argv[2]) * 1e-6, best = 1e9;
        for (int repeat = 0; repeat < 200; repeat++) {  /* the fastest of many: the work uninterrupted */
            double start = seconds();
            sink = work(100);
            double took = (seconds() - start) / 100;
            if (took < best)
                best = took;
        }
        printf("%ld\n", (long)(wanted / best + 0.5));
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: busy_thru --calibrate MICROSECONDS | busy_thru NAME ITERATIONS\n");
        return 2;
    }
    iterations = atol(argv[2]);
    int status = 0;
    jack_client_t *client = jack_client_open(argv[1], JACK_NO_START_SERVER | JACK_USE_EXACT_NAME, &status);
    if (client == NULL) {
        fprintf(stderr, "busy_thru: cannot open a JACK client (status 0x%x)\n", status);
        return 1;
    }
    in_port = jack_port_register(client, "in_1", AUDIO_TYPE, JACK_PORT_IS_INPUT, 0);
    out_port = jack_port_register(client, "out_1", AUDIO_TYPE, JACK_PORT_IS_OUTPUT, 0);
    if (in_port == NULL || out_port == NULL || jack_set_process_callback(client, process, NULL) != 0 ||
        jack_activate(client) != 0) {
        fprintf(stderr, "busy_thru: cannot register or activate\n");
        jack_client_close(client);
        return 1;
    }
    jack_connect(client, "system:capture_1", jack_port_name(in_port));
    jack_connect(client, jack_port_name(out_port), "system:playback_1");
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    while (running)
        usleep(20000);
    jack_client_close(client);
    return 0;
}
