/// What `postroom --version` prints; bumped with each release (openapi.yaml's
/// `info.version` names the same).
let postroomVersion = "0.13.0"
