/* Unit tests of the resampler: tone level and frequency, alias and image rejection,
 * lengths, chunked versus one-shot output, clipping, misuse and allocation failures. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "rt_alloc.h"
#include "rt_resample.h"
#include "rt_test.h"

/* ------------------------------------------------------------------ helpers */

static int16_t *sine(int rate, double freq, double amp, size_t n)
{
    int16_t *x = malloc(n * sizeof *x + 1);

    for (size_t i = 0; i < n; i++)
        x[i] = (int16_t)lrint(amp * sin(2.0 * M_PI * freq * (double)i / rate));
    return x;
}

/* Deterministic noise (an LCG), so failures reproduce. */
static uint32_t seed = 12345;
static uint32_t rnd(void)
{
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
}

static int16_t *noise(size_t n)
{
    int16_t *x = malloc(n * sizeof *x + 1);

    for (size_t i = 0; i < n; i++)
        x[i] = (int16_t)((int)(rnd() % 60001u) - 30000);
    return x;
}

/* Least-squares fit of a*sin + b*cos at freq over x[0..n) (n spanning whole cycles, so
 * the two basis signals are orthogonal), and the RMS of what the fit leaves. */
struct fit { double sin_amp, cos_amp, amp, resid_rms; };

static struct fit measure(const int16_t *x, size_t n, double rate, double freq)
{
    struct fit f = { 0, 0, 0, 0 };
    double e = 0.0;

    for (size_t i = 0; i < n; i++) {
        double w = 2.0 * M_PI * freq * (double)i / rate;
        f.sin_amp += x[i] * sin(w);
        f.cos_amp += x[i] * cos(w);
    }
    f.sin_amp *= 2.0 / (double)n;
    f.cos_amp *= 2.0 / (double)n;
    f.amp = hypot(f.sin_amp, f.cos_amp);
    for (size_t i = 0; i < n; i++) {
        double w = 2.0 * M_PI * freq * (double)i / rate;
        double d = x[i] - f.sin_amp * sin(w) - f.cos_amp * cos(w);
        e += d * d;
    }
    f.resid_rms = sqrt(e / (double)n);
    return f;
}

static double rms(const int16_t *x, size_t n)
{
    double e = 0.0;

    for (size_t i = 0; i < n; i++)
        e += (double)x[i] * x[i];
    return sqrt(e / (double)n);
}

/* Frequency from the spacing of upward zero crossings, located by linear interpolation. */
static double zero_cross_freq(const int16_t *x, size_t n, double rate)
{
    double first = -1.0, last = -1.0;
    int count = 0;

    for (size_t i = 1; i < n; i++) {
        if (x[i - 1] < 0 && x[i] >= 0) {
            double t = (double)(i - 1) + (double)-x[i - 1] / (double)(x[i] - x[i - 1]);
            if (first < 0)
                first = t;
            last = t;
            count++;
        }
    }
    return count > 1 ? (count - 1) * rate / (last - first) : 0.0;
}

static int16_t *oneshot(int from, int to, const int16_t *in, size_t n, size_t *nout)
{
    struct rt_error err = { 0 };
    int16_t *out = NULL;

    if (rt_resample(from, to, in, n, &out, nout, &err) != 0) {
        fprintf(stdout, "# rt_resample(%d, %d): %s\n", from, to, err.msg);
        return NULL;
    }
    return out;
}

/* ------------------------------------------------------------------ quality */

static void tone_1k_48k_to_16k(void)
{
    int16_t *in = sine(48000, 1000.0, 10000.0, 48000), *out;
    size_t n;

    out = oneshot(48000, 16000, in, 48000, &n);
    RT_CHECK(out && n == 16000);
    if (out) {
        /* the middle half second: 500 whole cycles, away from the edges */
        struct fit f = measure(out + 4000, 8000, 16000.0, 1000.0);
        double snr = 20.0 * log10(f.amp / M_SQRT2 / f.resid_rms);

        RT_CHECK(fabs(f.amp - 10000.0) < 10.0);         /* level kept within 0.01 dB */
        RT_CHECK(fabs(f.cos_amp) < 10.0);               /* no phase shift: the filter is centred */
        RT_CHECK(fabs(zero_cross_freq(out + 4000, 8000, 16000.0) - 1000.0) < 0.05);
        RT_CHECK(snr > 80.0);
        fprintf(stdout, "# 1 kHz 48k->16k: amplitude %.2f, SNR %.1f dB\n", f.amp, snr);
    }
    free(in);
    free(out);
}

static void alias_12k_48k_to_16k_rejected(void)
{
    int16_t *in = sine(48000, 12000.0, 30000.0, 48000), *out;
    size_t n;

    out = oneshot(48000, 16000, in, 48000, &n);
    RT_CHECK(out && n == 16000);
    if (out) {
        /* 12 kHz would fold to 4 kHz; everything left in the output is leakage */
        double r = rms(out + 4000, 8000);
        double atten = r > 0 ? 20.0 * log10(30000.0 / M_SQRT2 / r) : INFINITY;

        RT_CHECK(atten >= 60.0);
        if (r > 0)
            fprintf(stdout, "# 12 kHz 48k->16k: attenuated %.1f dB\n", atten);
        else
            fprintf(stdout, "# 12 kHz 48k->16k: every output sample is 0\n");
    }
    free(in);
    free(out);
}

static void upsample_16k_to_24k_rejects_images(void)
{
    int16_t *in = sine(16000, 3000.0, 20000.0, 16000), *out;
    size_t n;

    out = oneshot(16000, 24000, in, 16000, &n);
    RT_CHECK(out && n == 24000);
    if (out) {
        struct fit f = measure(out + 6000, 12000, 24000.0, 3000.0);
        struct fit img = measure(out + 6000, 12000, 24000.0, 11000.0);  /* 16k - 3k, folded */

        RT_CHECK(fabs(f.amp - 20000.0) < 20.0);
        RT_CHECK(20.0 * log10(20000.0 / (img.amp + 1e-9)) >= 80.0);
        RT_CHECK(20.0 * log10(f.amp / M_SQRT2 / f.resid_rms) > 80.0);
    }
    free(in);
    free(out);
}

static void odd_ratios_keep_tone(void)
{
    /* 44100 -> 16000 uses 160 exact phases; 44100 -> 16001 interpolates between rows */
    static const int to[] = { 16000, 16001, 22050, 96000 };

    for (size_t t = 0; t < sizeof to / sizeof to[0]; t++) {
        int16_t *in = sine(44100, 1000.0, 10000.0, 44100), *out;
        size_t n;

        out = oneshot(44100, to[t], in, 44100, &n);
        RT_CHECK(out && n == (size_t)to[t]);
        if (out) {
            /* (to/4) samples hold 250 whole cycles of 1 kHz only when to is a multiple
             * of 4000; otherwise the fit's leakage is what the residual check bounds */
            size_t span = (size_t)to[t] / 2;
            struct fit f = measure(out + span / 2, span, to[t], 1000.0);
            double snr = 20.0 * log10(f.amp / M_SQRT2 / f.resid_rms);

            RT_CHECK(fabs(f.amp - 10000.0) < 15.0);
            RT_CHECK(snr > 70.0);
            fprintf(stdout, "# 1 kHz 44.1k->%d: amplitude %.2f, SNR %.1f dB\n", to[t], f.amp, snr);
        }
        free(in);
        free(out);
    }
}

static void alias_rejected_44k_to_16k(void)
{
    int16_t *in = sine(44100, 9000.0, 30000.0, 44100), *out;   /* would fold to 7 kHz */
    size_t n;

    out = oneshot(44100, 16000, in, 44100, &n);
    RT_CHECK(out != NULL);
    if (out)
        RT_CHECK(20.0 * log10(30000.0 / M_SQRT2 / (rms(out + 4000, 8000) + 1e-9)) >= 60.0);
    free(in);
    free(out);
}

/* ------------------------------------------------------------------ shape */

static void identity_returns_same_samples(void)
{
    int16_t *in = noise(5000), *out;
    size_t n;

    out = oneshot(16000, 16000, in, 5000, &n);
    RT_CHECK(out && n == 5000 && memcmp(in, out, 5000 * sizeof *in) == 0);
    free(out);
    free(in);
}

static void output_length(void)
{
    static const int rates[][2] = {
        { 48000, 16000 }, { 16000, 24000 }, { 44100, 16000 }, { 8000, 192000 },
        { 192000, 8000 }, { 44100, 48000 }, { 48000, 44100 }, { 11025, 16001 },
    };
    static const size_t lens[] = { 0, 1, 2, 3, 7, 100, 441, 1000, 48001 };
    int16_t *in = noise(48001);

    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++) {
            double want = (double)lens[j] * rates[i][1] / rates[i][0];
            size_t n = 99;
            int16_t *out = oneshot(rates[i][0], rates[i][1], in, lens[j], &n);

            RT_CHECK(out != NULL);
            RT_CHECK(n == (size_t)ceil(want - 1e-9));
            RT_CHECK(fabs((double)n - floor(want + 0.5)) <= 1.0);
            free(out);
        }
    }
    free(in);
}

/* Feeds x in chunks of random sizes (including empty ones) and compares with one shot. */
static int chunked_equals_oneshot(int from, int to, const int16_t *x, size_t n)
{
    struct rt_error err = { 0 };
    struct rt_resampler *r = rt_resampler_new(from, to, &err);
    size_t want_n, done = 0, got, pos = 0;
    int16_t *want = oneshot(from, to, x, n, &want_n), *out;
    int same;

    if (!r || !want) {
        rt_resampler_free(r);
        free(want);
        return 0;
    }
    out = malloc((want_n + 1) * sizeof *out);
    for (int pass = 0; pass < 2; pass++) {    /* twice: flush leaves r ready for reuse */
        done = 0;
        pos = 0;
        while (pos < n) {
            size_t c = rnd() % 9 == 0 ? 0 : 1 + rnd() % 700;

            if (c > n - pos)
                c = n - pos;
            if (rt_resampler_process(r, x + pos, c, out + done, want_n - done, &got, &err) != 0)
                break;
            done += got;
            pos += c;
        }
        if (rt_resampler_flush(r, out + done, want_n - done, &got, &err) == 0)
            done += got;
        if (pos != n || done != want_n || memcmp(out, want, want_n * sizeof *out) != 0)
            break;
    }
    same = pos == n && done == want_n && memcmp(out, want, want_n * sizeof *out) == 0;
    if (!same)
        fprintf(stdout, "# %d -> %d: chunked gave %zu samples, one shot %zu (%s)\n", from, to,
                done, want_n, err.msg);
    free(out);
    free(want);
    rt_resampler_free(r);
    return same;
}

static void streaming_equals_oneshot(void)
{
    static const int rates[][2] = {
        { 48000, 16000 }, { 16000, 24000 }, { 44100, 16000 }, { 8000, 192000 },
        { 192000, 8000 }, { 22050, 48000 }, { 44100, 16001 }, { 16000, 16000 },
    };
    int16_t *x = noise(30000);

    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        RT_CHECK(chunked_equals_oneshot(rates[i][0], rates[i][1], x, 30000));
        RT_CHECK(chunked_equals_oneshot(rates[i][0], rates[i][1], x, 5));
    }
    free(x);
}

static void clipping_at_full_scale(void)
{
    /* A full-scale square wave overshoots through the filter (Gibbs); the output must
     * saturate at the int16 limits rather than wrap. */
    size_t n = 48000, got;
    int16_t *in = malloc(n * sizeof *in), *out;
    int hi = 0, lo = 0, wrapped = 0;

    for (size_t i = 0; i < n; i++)
        in[i] = (i / 24) % 2 ? -32768 : 32767;
    out = oneshot(48000, 16000, in, n, &got);
    RT_CHECK(out != NULL);
    for (size_t i = 0; out && i < got; i++) {
        hi += out[i] == 32767;
        lo += out[i] == -32768;
        /* a wrapped peak would show as a large value of the wrong sign right next to a peak */
        if (i > 0 && ((out[i - 1] > 30000 && out[i] < -30000) || (out[i - 1] < -30000 && out[i] > 30000)))
            wrapped++;
    }
    RT_CHECK(hi > 0 && lo > 0);
    RT_CHECK(wrapped == 0);
    free(out);
    free(in);
}

/* ------------------------------------------------------------------ misuse */

static void rates_out_of_range(void)
{
    static int16_t dummy;
    struct rt_error err = { 0 };
    int16_t *out = &dummy;
    size_t n = 7;

    RT_CHECK(rt_resampler_new(7999, 16000, &err) == NULL);
    RT_CHECK(err.code == RT_EINVAL);
    RT_CHECK_STR(err.msg, "sample rate 7999 Hz out of range (8000 to 192000)");
    rt_error_clear(&err);
    RT_CHECK(rt_resampler_new(16000, 192001, &err) == NULL);
    RT_CHECK_STR(err.msg, "sample rate 192001 Hz out of range (8000 to 192000)");
    rt_error_clear(&err);
    RT_CHECK(rt_resample(0, 16000, NULL, 0, &out, &n, &err) == -1);
    RT_CHECK(out == NULL && n == 0 && err.code == RT_EINVAL);
    RT_CHECK(rt_resampler_new(16000, 200000, NULL) == NULL);   /* a NULL err is allowed */
}

static void small_output_buffer_is_refused(void)
{
    struct rt_error err = { 0 };
    struct rt_resampler *r = rt_resampler_new(16000, 24000, &err);
    int16_t *x = noise(4000), out[8000];
    size_t n, want_n;
    int16_t *want = oneshot(16000, 24000, x, 4000, &want_n);

    RT_CHECK(r && want);
    if (r && want) {
        RT_CHECK(rt_resampler_out_max(r, 4000) == 6000);
        RT_CHECK(rt_resampler_process(r, x, 4000, out, 10, &n, &err) == -1);
        RT_CHECK(err.code == RT_EINVAL && n == 0);
        /* nothing was consumed: the stream still starts from scratch */
        RT_CHECK(rt_resampler_process(r, x, 4000, out, 8000, &n, &err) == 0);
        RT_CHECK(n > 0 && memcmp(out, want, n * sizeof *out) == 0);
        rt_error_clear(&err);
        RT_CHECK(rt_resampler_flush(r, out + n, 1, &n, &err) == -1 && err.code == RT_EINVAL);
    }
    rt_resampler_free(r);
    free(want);
    free(x);
}

/* ------------------------------------------------------------------ allocation */

static void allocation_failures(void)
{
    struct rt_error err = { 0 };
    struct rt_resampler *r = NULL;
    int16_t *x = noise(50000), *out = NULL, *want;
    size_t n, want_n, got;
    long k;

    for (k = 0; k < 20; k++) {
        rt_error_clear(&err);
        rt_alloc_fail_after(k);
        r = rt_resampler_new(48000, 44100, &err);
        rt_alloc_fail_after(-1);
        if (r)
            break;
        RT_CHECK(err.code == RT_ENOMEM);
    }
    RT_CHECK(r != NULL && k == 3);     /* the struct, the filter, the history */
    rt_resampler_free(r);

    for (k = 0; k < 20; k++) {
        rt_error_clear(&err);
        rt_alloc_fail_after(k);
        RT_CHECK(rt_resample(48000, 16000, x, 50000, &out, &n, &err) == 0 || (out == NULL && err.code == RT_ENOMEM));
        rt_alloc_fail_after(-1);
        if (out)
            break;
    }
    RT_CHECK(out != NULL && n == 16667);
    free(out);

    /* history growth fails: r is left as it was and carries on afterwards */
    want = oneshot(48000, 16000, x, 50000, &want_n);
    rt_error_clear(&err);
    r = rt_resampler_new(48000, 16000, &err);
    out = malloc(want_n * sizeof *out);
    RT_CHECK(r && want && out);
    if (r && want && out) {
        rt_alloc_fail_after(0);
        RT_CHECK(rt_resampler_process(r, x, 50000, out, want_n, &got, &err) == -1);
        rt_alloc_fail_after(-1);
        RT_CHECK(err.code == RT_ENOMEM && got == 0);
        RT_CHECK(rt_resampler_process(r, x, 50000, out, want_n, &got, &err) == 0);
        RT_CHECK(rt_resampler_flush(r, out + got, want_n - got, &n, &err) == 0);
        RT_CHECK(got + n == want_n && memcmp(out, want, want_n * sizeof *out) == 0);
    }
    rt_resampler_free(r);
    free(out);
    free(want);
    free(x);
}

int main(void)
{
    RT_RUN(tone_1k_48k_to_16k);
    RT_RUN(alias_12k_48k_to_16k_rejected);
    RT_RUN(upsample_16k_to_24k_rejects_images);
    RT_RUN(odd_ratios_keep_tone);
    RT_RUN(alias_rejected_44k_to_16k);
    RT_RUN(identity_returns_same_samples);
    RT_RUN(output_length);
    RT_RUN(streaming_equals_oneshot);
    RT_RUN(clipping_at_full_scale);
    RT_RUN(rates_out_of_range);
    RT_RUN(small_output_buffer_is_refused);
    RT_RUN(allocation_failures);
    return rt_test_done();
}
