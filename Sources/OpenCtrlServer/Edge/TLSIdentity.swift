import CSSL
import Glibc

/// One `X509` with one owner, freed exactly once.
final class X509Certificate {
    let raw: OpaquePointer

    init(owning raw: OpaquePointer) {
        self.raw = raw
    }

    deinit {
        X509_free(raw)
    }
}

/// One `EVP_PKEY` with one owner, freed exactly once.
final class PrivateKey {
    let raw: OpaquePointer

    init(owning raw: OpaquePointer) {
        self.raw = raw
    }

    deinit {
        EVP_PKEY_free(raw)
    }
}

/// A certificate chain, leaf first, and the private key of its leaf; checked to belong together.
///
/// Installing it hands OpenSSL its own references, so an identity can be dropped as soon as it
/// is installed.
struct TLSIdentity {
    let leaf: X509Certificate
    let intermediates: [X509Certificate]
    let key: PrivateKey

    init(leaf: X509Certificate, intermediates: [X509Certificate], key: PrivateKey) throws(TLSError) {
        guard let pub = X509_get0_pubkey(leaf.raw) else {
            OpenSSLErrorQueue.clear()
            throw TLSError("tls: unknown public key algorithm")
        }
        guard EVP_PKEY_get_base_id(pub) == EVP_PKEY_get_base_id(key.raw) else {
            throw TLSError("tls: private key type does not match public key type")
        }
        guard EVP_PKEY_eq(pub, key.raw) == 1 else {
            OpenSSLErrorQueue.clear()
            throw TLSError("tls: private key does not match public key")
        }
        self.leaf = leaf
        self.intermediates = intermediates
        self.key = key
    }

    /// Mode 2 (CONTRACT §3.3): the certificate file is read first, then the key file, and the
    /// checks follow Go's `tls.LoadX509KeyPair` in its order and with its texts.
    static func load(crt: String, key: String) throws(TLSError) -> TLSIdentity {
        let crtBytes = try readFile(crt)
        let keyBytes = try readFile(key)
        let certificateBlocks = try PEMSelection.certificates(in: crtBytes)
        let keyBlock = try PEMSelection.privateKey(in: keyBytes)
        OpenSSLErrorQueue.clear()
        var chain: [X509Certificate] = []
        for block in certificateBlocks {
            let parsed = withMemoryBIO(block.text) { PEM_read_bio_X509($0, nil, refusePassword, nil) }
            guard let parsed else { throw .openSSL("x509: malformed certificate") }
            chain.append(X509Certificate(owning: parsed))
        }
        let parsedKey = withMemoryBIO(keyBlock.text) { PEM_read_bio_PrivateKey($0, nil, refusePassword, nil) }
        guard let parsedKey else { throw .openSSL("tls: failed to parse private key") }
        return try TLSIdentity(leaf: chain[0], intermediates: Array(chain.dropFirst()), key: PrivateKey(owning: parsedKey))
    }

    /// Makes this the certificate of every session created from `context` from now on.
    func install(context: OpaquePointer) throws(TLSError) {
        try withChain { chain throws(TLSError) in
            guard SSL_CTX_use_cert_and_key(context, leaf.raw, key.raw, chain, 1) == 1 else {
                throw .openSSL("tls: certificate not usable")
            }
        }
    }

    /// Makes this the certificate of one session whose handshake is choosing it.
    func install(session: OpaquePointer) throws(TLSError) {
        try withChain { chain throws(TLSError) in
            guard SSL_use_cert_and_key(session, leaf.raw, key.raw, chain, 1) == 1 else {
                throw .openSSL("tls: certificate not usable")
            }
        }
    }

    /// The intermediates as the shallow stack OpenSSL takes (it references them itself).
    private func withChain(_ body: (OpaquePointer?) throws(TLSError) -> Void) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        guard !intermediates.isEmpty else { return try body(nil) }
        guard let stack = cssl_x509_stack_new() else { throw .openSSL("tls: certificate chain") }
        defer { cssl_x509_stack_free_shallow(stack) }
        for certificate in intermediates {
            guard cssl_x509_stack_push(stack, certificate.raw) > 0 else { throw .openSSL("tls: certificate chain") }
        }
        try body(stack)
    }

    /// The whole file, as Go's `os.ReadFile` reads it, with its error texts. Non-blocking, so
    /// a FIFO put in place of a certificate fails instead of stalling the loop on a reload.
    static func readFile(_ path: String) throws(TLSError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw TLSError("open \(path): \(errnoText())") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return bytes }
            if n < 0 {
                if errno == EINTR { continue }
                throw TLSError("read \(path): \(errnoText())")
            }
            bytes += chunk[..<n]
        }
    }

    private static func withMemoryBIO(_ bytes: [UInt8], _ body: (OpaquePointer) -> OpaquePointer?) -> OpaquePointer? {
        bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free_all(bio) }
            return body(bio)
        }
    }
}

/// Encrypted keys are not supported (nor are they by the original); without this callback
/// OpenSSL would prompt for a passphrase on the terminal.
private let refusePassword: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = { _, _, _, _ in -1 }
