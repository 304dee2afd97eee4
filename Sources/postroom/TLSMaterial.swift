import Crypto
import Foundation
import NIOSSL
import Store
import X509

/// The STARTTLS certificate: the configured pair, or (like Debian's snakeoil) a
/// self-signed pair made once in the data dir, so STARTTLS is always offered.
enum TLSMaterial {
    static func context(certificatePath: String?, keyPath: String?, dataDir: String, hostname: String) throws -> NIOSSLContext {
        var certificate = certificatePath ?? ""
        var key = keyPath ?? ""
        if certificatePath == nil {
            let folder = (dataDir as NSString).appendingPathComponent("tls")
            certificate = (folder as NSString).appendingPathComponent("selfsigned-cert.pem")
            key = (folder as NSString).appendingPathComponent("selfsigned-key.pem")
            if !FileManager.default.fileExists(atPath: certificate) || !FileManager.default.fileExists(atPath: key) {
                Store.makePrivate()  // the key is created 0600, never chmod-ed afterwards
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                let pair = try makeSelfSigned(hostname: hostname)
                FileManager.default.createFile(atPath: key, contents: Data(pair.key.utf8), attributes: [.posixPermissions: 0o600])
                FileManager.default.createFile(atPath: certificate, contents: Data(pair.certificate.utf8))
            }
        }
        let chain = try NIOSSLCertificate.fromPEMFile(certificate)
        let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }

    static func makeSelfSigned(hostname: String) throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(hostname) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([.dnsName(hostname)])
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        return (try certificate.serializeAsPEM().pemString + "\n", key.pemRepresentation + "\n")
    }
}
