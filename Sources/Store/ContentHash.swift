import Crypto
import Foundation

/// The one content hash: SHA-256, in lower-case hex. Duplicate detection (a message's
/// body without a Message-ID), import's "already here" check and reply tokens all
/// spell their digests with it, and random tokens their bytes.
public enum ContentHash {
    public static func of<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var hasher = SHA256()
        if let done = bytes.withContiguousStorageIfAvailable({ hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }) {
            _ = done
        } else {
            hasher.update(data: Array(bytes))
        }
        return hex(hasher.finalize())
    }

    /// Hex digits of any digest (or its prefix), without a format string per byte.
    public static func hex<Digest: Sequence>(_ digest: Digest) -> String where Digest.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
