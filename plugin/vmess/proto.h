/* The VMess protocol headers the session code (inbound_*.c, outbound.c) needs, in one place. */
#ifndef VMESS_PROTO_H
#define VMESS_PROTO_H

#include "body.h"
#include "command.h"
#include "header_aead.h"
#include "header_legacy.h"
#include "kdf.h"
#include "request.h"
#include "user_id.h"

#endif
