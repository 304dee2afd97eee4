/// What a reload changed, told apart by whether the running server applies it.
/// Pure: it compares the text each key was given before and after (a key left out
/// counts as its default), so a reload says exactly which keys took effect and which
/// wait for a restart.
public struct ConfigChange: Sendable, Equatable {
    /// Keys whose value changed and that the running server now uses.
    public var applied: [String]
    /// Keys whose value changed but that only a restart applies.
    public var restartNeeded: [String]

    public init(old: [String: String], new: [String: String]) {
        var applied: [String] = []
        var restart: [String] = []
        for key in ConfigKey.all {
            let before = old[key.name] ?? key.defaultText
            let after = new[key.name] ?? key.defaultText
            guard before != after else { continue }
            if key.live { applied.append(key.name) } else { restart.append(key.name) }
        }
        self.applied = applied
        self.restartNeeded = restart
    }
}

/// The answer to a reload (SIGHUP's log lines, `POST /api/config/reload`,
/// `postroom config reload`).
public struct ConfigReloadReport: Sendable, Codable, Equatable {
    /// Keys whose new values are in force.
    public var applied: [String]
    /// Keys whose values changed in the file or flags but need a restart; until then
    /// the old values stay in force.
    public var restartNeeded: [String]
    /// The DKIM signing keys now in force, `domain: selector (algorithm) ...`.
    public var dkim: [String]
    /// What reloading the filter scripts did, one line per script that changed.
    public var filters: [String]

    public init(applied: [String], restartNeeded: [String], dkim: [String], filters: [String]) {
        self.applied = applied
        self.restartNeeded = restartNeeded
        self.dkim = dkim
        self.filters = filters
    }
}
