/* The control socket's "sessions" command: what each relaying session moves and holds. */
#ifndef EVP_CONTROL_SESSIONS_H
#define EVP_CONTROL_SESSIONS_H

#include "control.h"

#include <jansson.h>

/* The reply's "sessions" array (new reference): per relaying session its inbound and
 * outbound tags, user (or null), policyLevel, bytes up and down, and the bytes it queues
 * each way (queuedUp: read from the client, not yet written to the server; queuedDown the
 * other way), which its level's bufferSize bounds. */
json_t *evp_control_sessions(const evp_control_host *host);

#endif
