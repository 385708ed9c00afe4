import CNCurses
import Glibc
import IPVSAdm

/// `--watch`'s full-screen view on the terminal, through ncurses: draws the lines
/// `IPVSAdm` made and reads keys. ncurses owns the terminal from `open` to `stop`, and only
/// then; nothing else writes to it meanwhile.
public final class CursesTerminal: WatchTerminal {
    private let screen: OpaquePointer

    private init(screen: OpaquePointer) { self.screen = screen }

    /// Takes over the terminal on standard output and input; nil when it cannot (a `TERM`
    /// the terminfo database does not know): the caller prints plain frames instead.
    public static func open() -> CursesTerminal? {
        guard let output = fdopen(STDOUT_FILENO, "w"), let input = fdopen(STDIN_FILENO, "r"),
            let screen = newterm(nil, output, input)
        else { return nil }
        cbreak()
        noecho()
        keypad(ipvs_curses_screen(), true)
        curs_set(0)
        return CursesTerminal(screen: screen)
    }

    public var size: (rows: Int, columns: Int) { (Int(ipvs_curses_rows()), Int(ipvs_curses_columns())) }

    public func draw(_ lines: [WatchLine]) {
        erase()
        let (rows, columns) = size
        for (row, line) in lines.prefix(rows).enumerated() {
            let attribute: Int32
            switch line.style {
            case .title: attribute = ipvs_curses_reverse()
            case .header: attribute = ipvs_curses_bold()
            case .plain: attribute = 0
            }
            if attribute != 0 { attron(attribute) }
            _ = mvaddnstr(Int32(row), 0, line.text, Int32(columns))
            if attribute != 0 { attroff(attribute) }
        }
        refresh()
    }

    public func nextKey(waitingUpTo seconds: Double) -> WatchKey? {
        timeout(Int32(min(max(seconds, 0), 3600) * 1000))
        let key = getch()
        switch key {
        case ERR: return nil
        case KEY_RESIZE: return .resize
        case 0..<128: return .character(Character(UnicodeScalar(UInt8(key))))
        default: return .character("\u{0}")
        }
    }

    public func stop() {
        endwin()
        delscreen(screen)
    }
}
