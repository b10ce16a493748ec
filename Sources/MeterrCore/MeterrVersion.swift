/// meterr's release, as `meterr --version` prints it.
public enum MeterrVersion {
    /// The version of this build.
    public static let current = "0.2.0"
}
