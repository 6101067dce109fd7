/* Sample-rate conversion of 16-bit mono PCM.
 *
 * Capture devices run at 44.1 or 48 kHz, the service takes 16 kHz and answers at 24 kHz,
 * so audio crosses rates in both directions. The converter is a polyphase windowed-sinc
 * filter (Kaiser window, about 90 dB stopband) whose cutoff sits just below the lower of
 * the two Nyquist frequencies: nothing above it aliases into the output, and the band
 * below 90% of it passes flat. Any pair of integer rates in RT_RESAMPLE_MIN_RATE ..
 * RT_RESAMPLE_MAX_RATE works; equal rates copy the samples unchanged.
 *
 * A resampler keeps its filter history between calls, so feeding a stream in chunks and
 * then flushing gives exactly the samples that one call on the whole stream gives.
 * Output sample k stands for input time k * from / to, so a stream of n samples becomes
 * ceil(n * to / from) samples in all; the filter is centred, which adds no delay. */
#ifndef RT_RESAMPLE_H
#define RT_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "rt_error.h"

#define RT_RESAMPLE_MIN_RATE 8000
#define RT_RESAMPLE_MAX_RATE 192000

struct rt_resampler;

/* Lifetime */

/* A converter from `from` Hz to `to` Hz, or NULL with err set (RT_EINVAL for a rate out
 * of range, RT_ENOMEM). The caller frees it with rt_resampler_free. */
struct rt_resampler *rt_resampler_new(int from, int to, struct rt_error *err);
void rt_resampler_free(struct rt_resampler *r);                 /* NULL ok */

/* Forgets the stream so far (history, position) without producing its tail. */
void rt_resampler_reset(struct rt_resampler *r);

/* Streaming */

/* The most samples that rt_resampler_process with nin input samples, followed by
 * rt_resampler_flush, can produce from r's current state; size output buffers with it.
 * On a fresh (or just flushed) resampler it is exactly ceil(nin * to / from). SIZE_MAX
 * when the count does not fit. */
size_t rt_resampler_out_max(const struct rt_resampler *r, size_t nin);

/* Feeds nin samples and writes the output they complete to out (room for cap samples),
 * storing the count in *nout. Output whose filter window reaches past the input given so
 * far waits for the next call or for flush. Returns 0, or -1 with err set and r
 * unchanged: RT_EINVAL when cap is too small, RT_ENOMEM when the history cannot grow.
 * cap >= rt_resampler_out_max(r, nin) always suffices. in may be NULL when nin is 0. */
int rt_resampler_process(struct rt_resampler *r, const int16_t *in, size_t nin,
                         int16_t *out, size_t cap, size_t *nout, struct rt_error *err);

/* Ends the stream: writes the output still owed (the input's last samples filtered
 * against silence) and resets r for a new stream. Never allocates. Returns 0, or -1
 * with RT_EINVAL and r unchanged when cap < rt_resampler_out_max(r, 0). */
int rt_resampler_flush(struct rt_resampler *r, int16_t *out, size_t cap, size_t *nout,
                       struct rt_error *err);

/* Rates and filter length (taps per output sample; 0 for equal rates). */
int rt_resampler_from(const struct rt_resampler *r);
int rt_resampler_to(const struct rt_resampler *r);
unsigned rt_resampler_taps(const struct rt_resampler *r);

/* One shot */

/* Converts a whole buffer. On success *out (allocated with rt_malloc, owned by the
 * caller, never NULL) holds *nout = ceil(nin * to / from) samples. Returns 0, or -1 with
 * err set and *out NULL. */
int rt_resample(int from, int to, const int16_t *in, size_t nin, int16_t **out,
                size_t *nout, struct rt_error *err);

#endif
