import IPVSAdm

/// The process's standard streams as `IPVSAdm.run` takes them, for the executables that run
/// the CLI on them (`ipvsadm`, `ipvsadm-restore-profile`): one definition of how the process
/// reads and writes, so the profile measures the product's own I/O.
public enum StandardStreams {
    /// stdout, collected and written in large blocks.
    public static func output() -> any OutputSink { FileDescriptorSink(descriptor: 1, buffered: true) }
    /// stderr, written at once.
    public static func error() -> any OutputSink { FileDescriptorSink(descriptor: 2, buffered: false) }
    /// stdin, line by line, read in large blocks.
    public static func input() -> any InputSource { StandardInput() }
}
