/// How callers present a meterr key in a header: one reading for the gateway and `/api`.
enum PresentedKey {
    /// The token of an `Authorization` value in the Bearer scheme: the scheme's name in any case
    /// (RFC 9110 §11.1), the token without the spaces or tabs around it; `nil` for another scheme or none.
    static func bearer(_ value: String) -> String? {
        let utf8 = value.utf8
        guard utf8.count > 7, utf8.prefix(7).elementsEqual("bearer ".utf8, by: { $0 | 0x20 == $1 }) else {
            return nil
        }
        let token = trimmed(Substring(value).utf8.dropFirst(7))
        return token.isEmpty ? nil : token
    }

    /// A key sent as a header's whole value (`x-api-key`, `api-key`, `x-goog-api-key`), trimmed.
    static func plain(_ value: String) -> String? {
        let token = trimmed(Substring(value).utf8[...])
        return token.isEmpty ? nil : token
    }

    /// The text without spaces or tabs around it.
    private static func trimmed(_ bytes: Substring.UTF8View) -> String {
        let blank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        guard let first = bytes.firstIndex(where: { !blank($0) }), let last = bytes.lastIndex(where: { !blank($0) })
        else { return "" }
        return String(Substring(bytes[first...last]))
    }
}
