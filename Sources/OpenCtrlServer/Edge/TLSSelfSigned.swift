import CSSL

/// Mode 1 (CONTRACT §3.2): a fresh ECDSA P-256 key and a self-signed certificate made in
/// memory at every start, as the original's `newTLSConfig` makes them: serial random below
/// 2^128, valid from now for 365 days, key usage digital signature + key encipherment
/// (critical, as Go marks it), extended key usage server authentication, empty subject and
/// issuer, no subject alternative names, signed with SHA-256. Nothing touches the disk.
enum TLSSelfSigned {
    static let validitySeconds = 365 * 24 * 3600

    static func generate() throws(TLSError) -> TLSIdentity {
        OpenSSLErrorQueue.clear()
        let key = try generateKey()
        guard let raw = X509_new() else { throw .openSSL("X509_new") }
        let certificate = X509Certificate(owning: raw)
        // Version 3 is encoded as 2.
        guard X509_set_version(raw, 2) == 1 else { throw .openSSL("X509_set_version") }
        try setRandomSerial(raw)
        guard X509_gmtime_adj(X509_getm_notBefore(raw), 0) != nil,
              X509_gmtime_adj(X509_getm_notAfter(raw), validitySeconds) != nil else {
            throw .openSSL("X509_gmtime_adj")
        }
        guard X509_set_pubkey(raw, key.raw) == 1 else { throw .openSSL("X509_set_pubkey") }
        try addExtension(raw, nid: NID_key_usage, value: "critical,digitalSignature,keyEncipherment")
        try addExtension(raw, nid: NID_ext_key_usage, value: "serverAuth")
        guard X509_sign(raw, key.raw, EVP_sha256()) > 0 else { throw .openSSL("X509_sign") }
        return try TLSIdentity(leaf: certificate, intermediates: [], key: key)
    }

    /// OpenSSL 3's non-variadic key generation path (`EVP_PKEY_Q_keygen` cannot be called
    /// from Swift).
    private static func generateKey() throws(TLSError) -> PrivateKey {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else { throw .openSSL("EVP_PKEY_CTX_new_from_name") }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_CTX_set_group_name(context, "P-256") == 1 else {
            throw .openSSL("EVP_PKEY_keygen_init")
        }
        var key: OpaquePointer?
        guard EVP_PKEY_generate(context, &key) == 1, let key else { throw .openSSL("EVP_PKEY_generate") }
        return PrivateKey(owning: key)
    }

    private static func setRandomSerial(_ certificate: OpaquePointer) throws(TLSError) {
        guard let number = BN_new() else { throw .openSSL("BN_new") }
        defer { BN_free(number) }
        guard BN_rand(number, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1,
              BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nil else {
            throw .openSSL("serial number")
        }
    }

    private static func addExtension(_ certificate: OpaquePointer, nid: Int32, value: String) throws(TLSError) {
        guard let ext = X509V3_EXT_conf_nid(nil, nil, nid, value) else { throw .openSSL("X509V3_EXT_conf_nid") }
        defer { X509_EXTENSION_free(ext) }
        guard X509_add_ext(certificate, ext, -1) == 1 else { throw .openSSL("X509_add_ext") }
    }
}
