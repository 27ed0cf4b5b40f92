#ifndef OPENCTRL_CSSL_SHIM_H
#define OPENCTRL_CSSL_SHIM_H
/* Latch glibc's feature macros the way SwiftGlibc does (no _GNU_SOURCE). */
#include <features.h>
#include <sys/types.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/bn.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>

/* Function-like macros Swift cannot import. */
static inline int cssl_ctx_set_min_proto(SSL_CTX *c, int v) { return (int)SSL_CTX_set_min_proto_version(c, v); }
static inline uint64_t cssl_ctx_set_options(SSL_CTX *c, uint64_t o) { return (uint64_t)SSL_CTX_set_options(c, o); }
static inline uint64_t cssl_op_ignore_unexpected_eof(void) { return (uint64_t)SSL_OP_IGNORE_UNEXPECTED_EOF; }
static inline uint64_t cssl_op_no_renegotiation(void) { return (uint64_t)SSL_OP_NO_RENEGOTIATION; }
/* Idle keep-alive and SSE connections then hold no 2 x 17 KiB record buffers. */
static inline long cssl_ctx_release_buffers(SSL_CTX *c) { return SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS); }
static inline int cssl_cb_accept_exit(void) { return SSL_CB_ACCEPT_EXIT; }

/*
 * A certificate chain handed to SSL_CTX_use_cert_and_key / SSL_use_cert_and_key, which take
 * their own references: the stack is shallow and freed without freeing its certificates.
 */
static inline STACK_OF(X509) *cssl_x509_stack_new(void) { return sk_X509_new_null(); }
static inline int cssl_x509_stack_push(STACK_OF(X509) *s, X509 *x) { return sk_X509_push(s, x); }
static inline void cssl_x509_stack_free_shallow(STACK_OF(X509) *s) { sk_X509_free(s); }
#endif
