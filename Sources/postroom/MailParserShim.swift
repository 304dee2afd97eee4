import MailMessage

enum MailParserShim {
    static func fromAddress(_ raw: [UInt8]) -> String? {
        MailParser.parse(raw).from.first?.address
    }
}
