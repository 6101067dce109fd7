/* Polyphase windowed-sinc sample-rate conversion (see rt_resample.h). */
#include "rt_resample.h"

#include <math.h>
#include <string.h>

#include "rt_alloc.h"

/* Filter design. The stopband starts at the lower Nyquist frequency and the passband
 * ends 10% below it; the cutoff lies halfway. 90 dB leaves margin over the 80 dB the
 * Kaiser length estimate aims for and stays below 16-bit rounding noise. */
#define RT_RS_ATTEN_DB   90.0
#define RT_RS_PASS_EDGE  0.90
#define RT_RS_CUTOFF     0.95

/* With L output phases per input sample the exact table holds L rows of K taps. Odd rate
 * pairs (44100 -> 16001) have a huge L; past this many coefficients the table is sampled
 * more coarsely and rows are interpolated linearly, which costs a second dot product. */
#define RT_RS_EXACT_MAX  (1u << 19)

/* Input samples converted per step by rt_resample, to bound the history it holds. */
#define RT_RS_CHUNK      8192

struct rt_resampler {
    int from, to;          /* Hz */
    unsigned l, m;         /* to / gcd, from / gcd: output k sits at input time k*m/l */
    unsigned k;            /* taps per row, a multiple of 8; 0 for equal rates */
    unsigned p;            /* coefficient rows - 1; p == l means one exact row per phase */
    float *coef;           /* owned: (p + 1) rows of k taps; row i is for fraction i/p */
    float *hist;           /* owned: input history; hist[start] is the next output's first tap */
    size_t len, cap;       /* samples held in hist, samples allocated */
    size_t start;          /* may exceed len after a large step down: samples still to skip */
    unsigned num;          /* the next output's fractional position, num / l, 0 <= num < l */
    uint64_t nin, nout;    /* samples taken and given since the last reset */
};

/* ------------------------------------------------------------------ design */

static unsigned rt_rs_gcd(unsigned a, unsigned b)
{
    while (b) {
        unsigned t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Modified Bessel function of the first kind, order 0, by its power series; the terms
 * fall fast for the arguments a Kaiser window uses (below 10). */
static double rt_rs_bessel_i0(double x)
{
    double sum = 1.0, term = 1.0, q = x * x / 4.0;

    for (int n = 1; n < 200; n++) {
        term *= q / ((double)n * (double)n);
        sum += term;
        if (term < sum * 1e-17)
            break;
    }
    return sum;
}

/* Fills row i (fraction frac of an input sample) of the table: tap j weighs the input
 * at offset half - 1 - j before the output position. Rows are scaled to unit sum so a
 * constant signal passes at exactly its level whatever the phase. */
static void rt_rs_fill_row(float *row, unsigned k, double frac, double fc, double beta,
                           double i0_beta)
{
    double half = (double)(k / 2), sum = 0.0;

    for (unsigned j = 0; j < k; j++) {
        double t = frac + half - 1.0 - (double)j;   /* distance in input samples */
        double x = 2.0 * fc * t, r = t / half, s, w, v;

        s = fabs(x) < 1e-12 ? 1.0 : sin(M_PI * x) / (M_PI * x);
        r = 1.0 - r * r;
        w = rt_rs_bessel_i0(beta * sqrt(r > 0.0 ? r : 0.0)) / i0_beta;
        v = 2.0 * fc * s * w;
        row[j] = (float)v;
        sum += v;
    }
    for (unsigned j = 0; j < k; j++)
        row[j] = (float)((double)row[j] / sum);
}

static int rt_rs_design(struct rt_resampler *r, struct rt_error *err)
{
    double nyq = 0.5 * (double)(r->from < r->to ? r->from : r->to);
    double fc = RT_RS_CUTOFF * nyq / (double)r->from;      /* cycles per input sample */
    double df = (1.0 - RT_RS_PASS_EDGE) * nyq / (double)r->from;
    double beta = 0.1102 * (RT_RS_ATTEN_DB - 8.7);
    double taps = ceil((RT_RS_ATTEN_DB - 7.95) / (14.36 * df)) + 1.0;
    double i0_beta = rt_rs_bessel_i0(beta);
    unsigned k = ((unsigned)taps + 7u) & ~7u;              /* rates are bounded: taps < 4000 */
    unsigned p = r->l;

    if ((uint64_t)r->l * k > RT_RS_EXACT_MAX) {
        /* Linear interpolation between rows errs by about (2*pi*fc/p)^2/8 of the tap
         * size; 2048*fc rows keep that near -118 dB. */
        double want = ceil(2048.0 * fc);
        p = want < 64.0 ? 64u : want > 1024.0 ? 1024u : (unsigned)want;
        if (p > r->l)
            p = r->l;
    }
    r->k = k;
    r->p = p;
    r->coef = rt_calloc((size_t)(p + 1) * k, sizeof *r->coef);
    if (!r->coef) {
        rt_error_set(err, RT_ENOMEM, "out of memory for a %u x %u resampling filter", p + 1, k);
        return -1;
    }
    for (unsigned i = 0; i <= p; i++)
        rt_rs_fill_row(r->coef + (size_t)i * k, k, (double)i / (double)p, fc, beta, i0_beta);
    return 0;
}

/* --------------------------------------------------------------- lifetime */

static int rt_rs_rate_ok(int rate)
{
    return rate >= RT_RESAMPLE_MIN_RATE && rate <= RT_RESAMPLE_MAX_RATE;
}

void rt_resampler_reset(struct rt_resampler *r)
{
    if (!r)
        return;
    r->start = 0;
    r->num = 0;
    r->nin = r->nout = 0;
    if (r->k == 0) {
        r->len = 0;
        return;
    }
    /* Silence before the stream: the first output is centred on input sample 0 and its
     * window begins half - 1 samples earlier. */
    r->len = r->k / 2 - 1;
    memset(r->hist, 0, r->len * sizeof *r->hist);
}

struct rt_resampler *rt_resampler_new(int from, int to, struct rt_error *err)
{
    struct rt_resampler *r;
    unsigned g;

    if (!rt_rs_rate_ok(from) || !rt_rs_rate_ok(to)) {
        rt_error_set(err, RT_EINVAL, "sample rate %d Hz out of range (%d to %d)",
                     rt_rs_rate_ok(from) ? to : from, RT_RESAMPLE_MIN_RATE,
                     RT_RESAMPLE_MAX_RATE);
        return NULL;
    }
    r = rt_calloc(1, sizeof *r);
    if (!r) {
        rt_error_set(err, RT_ENOMEM, "out of memory for a resampler");
        return NULL;
    }
    r->from = from;
    r->to = to;
    g = rt_rs_gcd((unsigned)from, (unsigned)to);
    r->l = (unsigned)to / g;
    r->m = (unsigned)from / g;
    if (from != to) {
        if (rt_rs_design(r, err) != 0)
            goto fail;
        /* Room for the lead-in, the flush tail and a typical chunk, so that flush
         * never allocates and small chunks rarely do. */
        r->cap = (size_t)r->k * 2 + 4096;
        r->hist = rt_malloc(r->cap * sizeof *r->hist);
        if (!r->hist) {
            rt_error_set(err, RT_ENOMEM, "out of memory for resampler history");
            goto fail;
        }
    }
    rt_resampler_reset(r);
    return r;
fail:
    rt_resampler_free(r);
    return NULL;
}

void rt_resampler_free(struct rt_resampler *r)
{
    if (!r)
        return;
    rt_free(r->coef);
    rt_free(r->hist);
    rt_free(r);
}

int rt_resampler_from(const struct rt_resampler *r) { return r->from; }
int rt_resampler_to(const struct rt_resampler *r) { return r->to; }
unsigned rt_resampler_taps(const struct rt_resampler *r) { return r->k; }

/* -------------------------------------------------------------- streaming */

/* Outputs whose position k*m/l is below `limit` input samples, minus those already
 * given; UINT64_MAX when the product overflows. */
static uint64_t rt_rs_owed(const struct rt_resampler *r, uint64_t limit)
{
    uint64_t total;

    if (limit > (UINT64_MAX - r->m) / r->l)
        return UINT64_MAX;
    total = (limit * r->l + r->m - 1) / r->m;
    return total > r->nout ? total - r->nout : 0;
}

/* Outputs that process can give once `nin` input samples have been taken in all: those
 * whose window ends at or before the last of them. */
static uint64_t rt_rs_ready(const struct rt_resampler *r, uint64_t nin)
{
    uint64_t half = r->k / 2;

    return nin > half ? rt_rs_owed(r, nin - half) : 0;
}

size_t rt_resampler_out_max(const struct rt_resampler *r, size_t nin)
{
    uint64_t n;

    if (r->k == 0)
        return nin;
    if ((uint64_t)nin > UINT64_MAX - r->nin)
        return SIZE_MAX;
    n = rt_rs_owed(r, r->nin + nin);
    return n > SIZE_MAX ? SIZE_MAX : (size_t)n;
}

/* Eight partial sums in two 4-lane vectors (GCC's vector extension, which compiles to
 * SSE/NEON or to plain scalar code): the taps dominate the cost, and -O2 without
 * -ffast-math may not reorder a float sum by itself. The order of additions is fixed, so
 * chunked and one-shot output agree bit for bit. k is a multiple of 8. */
typedef float rt_rs_v4 __attribute__((vector_size(16)));

static float rt_rs_dot(const float *x, const float *h, unsigned k)
{
    rt_rs_v4 a = { 0 }, b = { 0 };

    for (unsigned j = 0; j < k; j += 8) {
        rt_rs_v4 x0, x1, h0, h1;

        /* memcpy: x is at any sample offset, so loads must not assume alignment */
        memcpy(&x0, x + j, sizeof x0);
        memcpy(&x1, x + j + 4, sizeof x1);
        memcpy(&h0, h + j, sizeof h0);
        memcpy(&h1, h + j + 4, sizeof h1);
        a += x0 * h0;
        b += x1 * h1;
    }
    a += b;
    return (a[0] + a[1]) + (a[2] + a[3]);
}

static int16_t rt_rs_to_pcm(float y)
{
    /* Clip before converting: a float beyond the int16 range has no defined conversion,
     * and a full-scale square wave overshoots by about 9% through any sharp filter. */
    if (y >= 32767.0f)
        return 32767;
    if (y <= -32768.0f)
        return -32768;
    return (int16_t)lrintf(y);
}

/* Computes n outputs from the history (the caller has checked they are ready). */
static void rt_rs_run(struct rt_resampler *r, int16_t *out, size_t n)
{
    const unsigned k = r->k, l = r->l, m = r->m, p = r->p;

    for (size_t i = 0; i < n; i++) {
        const float *x = r->hist + r->start;
        float y;

        if (p == l) {
            y = rt_rs_dot(x, r->coef + (size_t)r->num * k, k);
        } else {
            uint64_t q = (uint64_t)r->num * p;
            size_t row = (size_t)(q / l);
            float w = (float)(q % l) / (float)l;
            const float *h = r->coef + row * k;

            y = rt_rs_dot(x, h, k);
            if (w != 0.0f)
                y += w * (rt_rs_dot(x, h + k, k) - y);
        }
        out[i] = rt_rs_to_pcm(y);
        r->num += m;
        r->start += r->num / l;
        r->num %= l;
    }
    r->nout += n;
}

/* Drops history no later output needs. */
static void rt_rs_compact(struct rt_resampler *r)
{
    size_t drop = r->start < r->len ? r->start : r->len;

    if (drop == 0)
        return;
    memmove(r->hist, r->hist + drop, (r->len - drop) * sizeof *r->hist);
    r->len -= drop;
    r->start -= drop;
}

int rt_resampler_process(struct rt_resampler *r, const int16_t *in, size_t nin,
                         int16_t *out, size_t cap, size_t *nout, struct rt_error *err)
{
    uint64_t ready;
    size_t need;

    *nout = 0;
    if (r->k == 0) {
        if (cap < nin) {
            rt_error_set(err, RT_EINVAL, "output room for %zu samples, %zu needed", cap, nin);
            return -1;
        }
        if (nin)
            memcpy(out, in, nin * sizeof *in);
        *nout = nin;
        return 0;
    }
    ready = (uint64_t)nin > UINT64_MAX - r->nin ? UINT64_MAX : rt_rs_ready(r, r->nin + nin);
    if (ready > cap) {
        rt_error_set(err, RT_EINVAL, "output room for %zu samples, %llu needed", cap,
                     (unsigned long long)ready);
        return -1;
    }
    /* Keep room for the flush tail as well, so flush never has to allocate. */
    if (nin > (SIZE_MAX / sizeof *r->hist - r->k) - r->len) {
        rt_error_set(err, RT_ENOMEM, "resampler input of %zu samples is too large", nin);
        return -1;
    }
    need = r->len + nin + r->k / 2;
    if (need > r->cap) {
        size_t ncap = r->cap * 2 > need ? r->cap * 2 : need;
        float *h = rt_realloc(r->hist, ncap * sizeof *h);

        if (!h) {
            rt_error_set(err, RT_ENOMEM, "out of memory for resampler history");
            return -1;
        }
        r->hist = h;
        r->cap = ncap;
    }
    for (size_t i = 0; i < nin; i++)
        r->hist[r->len + i] = (float)in[i];
    r->len += nin;
    r->nin += nin;
    rt_rs_run(r, out, (size_t)ready);
    rt_rs_compact(r);
    *nout = (size_t)ready;
    return 0;
}

int rt_resampler_flush(struct rt_resampler *r, int16_t *out, size_t cap, size_t *nout,
                       struct rt_error *err)
{
    uint64_t owed;

    *nout = 0;
    if (r->k == 0)
        return 0;
    owed = rt_rs_owed(r, r->nin);
    if (owed > cap) {
        rt_error_set(err, RT_EINVAL, "output room for %zu samples, %llu needed", cap,
                     (unsigned long long)owed);
        return -1;
    }
    /* Silence after the stream completes the windows of the last outputs; process kept
     * room for it. Samples still to be skipped (start > len) are silence too. */
    memset(r->hist + r->len, 0, (r->k / 2) * sizeof *r->hist);
    r->len += r->k / 2;
    rt_rs_run(r, out, (size_t)owed);
    *nout = (size_t)owed;
    rt_resampler_reset(r);
    return 0;
}

/* --------------------------------------------------------------- one shot */

int rt_resample(int from, int to, const int16_t *in, size_t nin, int16_t **out,
                size_t *nout, struct rt_error *err)
{
    struct rt_resampler *r;
    size_t total, done = 0, got;
    int16_t *buf;

    *out = NULL;
    *nout = 0;
    r = rt_resampler_new(from, to, err);
    if (!r)
        return -1;
    total = rt_resampler_out_max(r, nin);
    if (total == SIZE_MAX || total > SIZE_MAX / sizeof *buf) {
        rt_error_set(err, RT_ENOMEM, "resampled output of %zu samples is too large", nin);
        rt_resampler_free(r);
        return -1;
    }
    buf = rt_malloc(total * sizeof *buf);
    if (!buf) {
        rt_error_set(err, RT_ENOMEM, "out of memory for %zu resampled samples", total);
        rt_resampler_free(r);
        return -1;
    }
    for (size_t i = 0; i < nin; i += RT_RS_CHUNK) {
        size_t n = nin - i < RT_RS_CHUNK ? nin - i : RT_RS_CHUNK;

        if (rt_resampler_process(r, in + i, n, buf + done, total - done, &got, err) != 0)
            goto fail;
        done += got;
    }
    if (rt_resampler_flush(r, buf + done, total - done, &got, err) != 0)
        goto fail;
    done += got;
    rt_resampler_free(r);
    *out = buf;
    *nout = done;
    return 0;
fail:
    rt_free(buf);
    rt_resampler_free(r);
    return -1;
}
