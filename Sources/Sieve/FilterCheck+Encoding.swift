/// The JSON shape of a filter result, shared by `POST /api/filters/test` and
/// `postroom filters test --json`: each action is one flat object named by its
/// `action` (RFC 5228/5230 names), never Swift's enum encoding (`{"vacation":{"_0":…}}`).
/// The stored filter results keep the enum's own Codable; this is only what people read.
extension FilterCheck {
    enum CodingKeys: String, CodingKey {
        case valid, error, line, column, actions, implicitKeep, implicitKeepFlags, headerEdits, runtimeError, trace, text
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(valid, forKey: .valid)
        try container.encodeIfPresent(error, forKey: .error)
        try container.encodeIfPresent(line, forKey: .line)
        try container.encodeIfPresent(column, forKey: .column)
        try container.encodeIfPresent(actions?.map(ActionReport.init), forKey: .actions)
        try container.encodeIfPresent(implicitKeep, forKey: .implicitKeep)
        try container.encodeIfPresent(implicitKeepFlags, forKey: .implicitKeepFlags)
        try container.encodeIfPresent(headerEdits?.map(HeaderEditReport.init), forKey: .headerEdits)
        try container.encodeIfPresent(runtimeError, forKey: .runtimeError)
        try container.encodeIfPresent(trace, forKey: .trace)
        try container.encodeIfPresent(text, forKey: .text)
    }
}

/// One action as people read it: `{"action": "fileinto", "mailbox": "Sales", …}`.
struct ActionReport: Encodable {
    var action: String
    var mailbox: String?
    var flags: [String]?
    var copy: Bool?
    var create: Bool?
    var address: String?
    var reason: String?
    var extended: Bool?
    var subject: String?
    var from: String?
    var addresses: [String]?
    var days: Int?
    var seconds: Int?
    var handle: String?
    var mime: Bool?
    /// Postroom's own actions: what it does and to whom.
    var command: String?
    var value: String?

    init(_ action: SieveAction) {
        switch action {
        case .keep(let flags):
            self.action = "keep"
            self.flags = flags
        case .fileinto(let mailbox, let flags, let copy, let create):
            self.action = "fileinto"
            self.mailbox = mailbox
            self.flags = flags
            self.copy = copy
            self.create = create
        case .redirect(let address, let copy):
            self.action = "redirect"
            self.address = address
            self.copy = copy
        case .reject(let reason, let extended):
            self.action = extended ? "ereject" : "reject"
            self.reason = reason
            self.extended = extended
        case .discard:
            self.action = "discard"
        case .vacation(let vacation):
            self.action = "vacation"
            reason = vacation.reason
            subject = vacation.subject
            from = vacation.from
            addresses = vacation.addresses
            days = vacation.days
            seconds = vacation.seconds
            handle = vacation.handle
            mime = vacation.mime
        case .postroom(let postroom):
            self.action = "postroom"
            switch postroom {
            case .assignUser(let user): (command, value) = ("assign-user", user)
            case .assignTeam(let team): (command, value) = ("assign-team", team)
            case .priority(let priority): (command, value) = ("priority", priority)
            case .noTicket: command = "no-ticket"
            case .comment(let text): (command, value) = ("comment", text)
            }
        }
    }
}

/// One editheader change: `{"edit": "add", "name": …, "value": …, "last": false}`.
struct HeaderEditReport: Encodable {
    var edit: String
    var name: String
    var value: String?
    var index: Int?
    var last: Bool
    var values: [String]?

    init(_ edit: HeaderEdit) {
        switch edit {
        case .add(let name, let value, let last):
            (self.edit, self.name, self.value, self.last) = ("add", name, value, last)
        case .delete(let name, let index, let last, let values):
            (self.edit, self.name, self.index, self.last, self.values) = ("delete", name, index, last, values)
        }
    }
}
