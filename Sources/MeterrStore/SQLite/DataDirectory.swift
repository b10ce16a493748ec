import Foundation
import MeterrCore

/// Checks a data directory before meterr writes to it, so a start that cannot use it says why in
/// one line (a file where the directory should be, no permission) rather than "cannot create".
enum DataDirectory {
    /// Throws a configuration error naming the problem with `path` as a data directory, if any.
    static func check(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw MeterrError(.configuration, "the data directory \(path) is a file, not a directory")
            }
            guard access(path, W_OK | X_OK) == 0 else {
                throw MeterrError(
                    .configuration, "permission denied: meterr cannot write in the data directory \(path)")
            }
            return
        }
        // The nearest existing ancestor must be a directory meterr may create entries in.
        var ancestor = (path as NSString).deletingLastPathComponent
        if ancestor.isEmpty { ancestor = "." }
        while !FileManager.default.fileExists(atPath: ancestor, isDirectory: &isDirectory) {
            let parent = (ancestor as NSString).deletingLastPathComponent
            if parent == ancestor || parent.isEmpty { return }
            ancestor = parent
        }
        guard isDirectory.boolValue else {
            throw MeterrError(
                .configuration, "cannot create the data directory \(path): \(ancestor) is a file, not a directory")
        }
        guard access(ancestor, W_OK | X_OK) == 0 else {
            throw MeterrError(
                .configuration, "permission denied: meterr cannot create the data directory \(path) in \(ancestor)")
        }
    }
}
