import IPVS

/// The errno a change failed with, nil when it was carried out.
func errno(_ body: () throws(IPVSError) -> Void) -> Errno? {
    do {
        try body()
        return nil
    } catch {
        return error.errno
    }
}
