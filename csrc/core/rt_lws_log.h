/* Capture of libwebsockets' log lines.
 *
 * lws logging is process-wide in 4.1. The last error or warning logged on a thread
 * usually names the cause of a connection failure, and is attached to the error. Set
 * RT_LWS_LOG in the environment to see every line on stderr. */
#ifndef RT_LWS_LOG_H
#define RT_LWS_LOG_H

/* Installs the capture (once per process; any thread). */
void rt_lws_log_init(void);
/* The last error or warning lws logged on this thread ("" when none since the clear). */
const char *rt_lws_last_log(void);
/* errno as that line was logged (0 when none): what failed just before it, which lws
 * does not always name (a plug-in that dlopen could not open for want of descriptors). */
int rt_lws_last_errno(void);
void rt_lws_clear_log(void);

#endif
