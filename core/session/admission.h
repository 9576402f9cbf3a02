/* Admission against the global limits: whether a new session, UDP session or UDP association
 * may start, and telling the listeners to stop and start accepting. Each refusal episode is
 * logged once, when it starts. */
#ifndef EVP_ADMISSION_H
#define EVP_ADMISSION_H

#include "session.h"

/* Before an accept: takes a place for one TCP session (in its handshake) in the workers'
 * shared counts, so that a connection accepted always has one; 0 at a cap (then pause).
 * Without a shared load it only tells whether there is room. */
int evp_admission_reserve(evp_runtime *rt);
/* Gives back a place reserved and not taken by a session (nothing was accepted). */
void evp_admission_unreserve(evp_runtime *rt);
/* Counts a new session (a TCP one is in its handshake, and takes the place reserved for it);
 * 0 when the workers' shared count is at a cap (nothing counted: the session is not to
 * start). */
int evp_admission_enter(evp_runtime *rt, int handshake);
/* The session named its target: it no longer counts against maxHandshakes. */
void evp_admission_handshake_done(evp_runtime *rt);
/* A session counted by evp_admission_enter ended (handshake: still in its handshake). */
void evp_admission_leave(evp_runtime *rt, int handshake);
/* A UDP association opened (+1) or closed (-1). */
void evp_admission_assoc_count(evp_runtime *rt, int delta);
/* True while a new TCP connection may be accepted (sessions and handshakes under their caps). */
int evp_admission_room(const evp_runtime *rt);
/* The listeners stopped accepting because a cap is reached: note it, log it once. */
void evp_admission_pause(evp_runtime *rt);
/* A session ended or finished its handshake, or the limits changed: resume accepting when
 * there is room again, and end the UDP refusal episodes. */
void evp_admission_changed(evp_runtime *rt);
/* True when a new UDP session may start (else the datagram is dropped, logged once). */
int evp_admission_udp(evp_runtime *rt);
/* True when a new UDP association may open (else it is refused, logged once). */
int evp_admission_assoc(evp_runtime *rt);

#endif
