/// One armored block of a PEM file: its label and its text from the BEGIN line through the
/// END line (line ends normalised to `\n`), ready for OpenSSL's PEM reader.
struct PEMBlock: Equatable, Sendable {
    var label: String
    var text: [UInt8]
}

/// Picks the certificate chain and the private key out of the `crt` and `key` files the way
/// Go's `tls.X509KeyPair` does, with the original's error texts (operators grep for them):
/// every `CERTIFICATE` block of the certificate file, in order, leaf first; the first block of
/// the key file whose label is `PRIVATE KEY` or ends in ` PRIVATE KEY`.
enum PEMSelection {
    static func certificates(in bytes: [UInt8]) throws(TLSError) -> [PEMBlock] {
        let all = blocks(in: bytes)
        let certificates = all.filter { $0.label == "CERTIFICATE" }
        guard certificates.isEmpty else { return certificates }
        let skipped = all.map(\.label)
        if skipped.isEmpty { throw TLSError("tls: failed to find any PEM data in certificate input") }
        if skipped.count == 1, skipped[0].hasSuffix("PRIVATE KEY") {
            throw TLSError("tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched")
        }
        throw TLSError("tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping PEM blocks of the following types: \(goList(skipped))")
    }

    static func privateKey(in bytes: [UInt8]) throws(TLSError) -> PEMBlock {
        var skipped: [String] = []
        for block in blocks(in: bytes) {
            if block.label == "PRIVATE KEY" || block.label.hasSuffix(" PRIVATE KEY") { return block }
            skipped.append(block.label)
        }
        if skipped.isEmpty { throw TLSError("tls: failed to find any PEM data in key input") }
        if skipped == ["CERTIFICATE"] {
            throw TLSError("tls: found a certificate rather than a key in the PEM for the private key")
        }
        throw TLSError("tls: failed to find PEM block with type ending in \"PRIVATE KEY\" in key input after skipping PEM blocks of the following types: \(goList(skipped))")
    }

    /// Complete blocks in file order. A BEGIN line without its matching END line is not a
    /// block (Go's `pem.Decode` skips it too); text outside blocks is ignored.
    static func blocks(in bytes: [UInt8]) -> [PEMBlock] {
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(trimmedLine)
        var found: [PEMBlock] = []
        var index = 0
        while index < lines.count {
            guard let label = armorLabel(lines[index], kind: "BEGIN") else {
                index += 1
                continue
            }
            guard let end = lines[(index + 1)...].firstIndex(where: { armorLabel($0, kind: "END") == label }) else {
                index += 1
                continue
            }
            var text: [UInt8] = []
            for line in lines[index...end] {
                text += line
                text.append(0x0A)
            }
            found.append(PEMBlock(label: label, text: text))
            index = end + 1
        }
        return found
    }

    /// The label of a `-----BEGIN <label>-----` or `-----END <label>-----` line.
    private static func armorLabel(_ line: ArraySlice<UInt8>, kind: String) -> String? {
        let head = Array("-----\(kind) ".utf8)
        let tail = Array("-----".utf8)
        guard line.count > head.count + tail.count, line.starts(with: head), line.suffix(tail.count).elementsEqual(tail) else {
            return nil
        }
        return String(decoding: line.dropFirst(head.count).dropLast(tail.count), as: UTF8.self)
    }

    /// Go's `getLine` drops trailing spaces, tabs and the `\r` of a CRLF line end.
    private static func trimmedLine(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var end = line.endIndex
        while end > line.startIndex, [0x20, 0x09, 0x0D].contains(line[end - 1]) { end -= 1 }
        return line[line.startIndex..<end]
    }

    /// A string list as Go's `%v` prints it: `[A B]`.
    private static func goList(_ items: [String]) -> String {
        "[" + items.joined(separator: " ") + "]"
    }
}
