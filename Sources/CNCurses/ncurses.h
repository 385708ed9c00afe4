#include <stdio.h>
#include <ncursesw/curses.h>

// What Swift cannot reach directly: ncurses' attribute macros, and its global variables
// (LINES, COLS, stdscr), which Swift 6 refuses to read as shared mutable state.
static inline int ipvs_curses_rows(void) { return LINES; }
static inline int ipvs_curses_columns(void) { return COLS; }
static inline WINDOW *ipvs_curses_screen(void) { return stdscr; }
static inline int ipvs_curses_bold(void) { return A_BOLD; }
static inline int ipvs_curses_reverse(void) { return A_REVERSE; }
