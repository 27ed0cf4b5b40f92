#ifndef OPENCTRL_CSSL_SHIM_H
#define OPENCTRL_CSSL_SHIM_H
/* Latch glibc's feature macros the way SwiftGlibc does (no _GNU_SOURCE). */
#include <features.h>
#include <sys/types.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>

/* Function-like macros Swift cannot import. */
static inline int cssl_ctx_set_min_proto(SSL_CTX *c, int v) { return (int)SSL_CTX_set_min_proto_version(c, v); }
static inline uint64_t cssl_ctx_set_options(SSL_CTX *c, uint64_t o) { return (uint64_t)SSL_CTX_set_options(c, o); }
static inline uint64_t cssl_op_ignore_unexpected_eof(void) { return (uint64_t)SSL_OP_IGNORE_UNEXPECTED_EOF; }
static inline uint64_t cssl_op_no_renegotiation(void) { return (uint64_t)SSL_OP_NO_RENEGOTIATION; }
#endif
