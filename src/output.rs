//! Standard output that ends the program quietly when its reader goes away.
//!
//! Rust ignores SIGPIPE, so writing to a closed pipe is an error, and `println!` panics on it
//! with a backtrace. A reader that closes the pipe (`| head`) has all it wanted, so every verb
//! prints through [`line`] (the `outln!` macro), which exits as a program killed by SIGPIPE
//! would: quietly, with status 141 (128 + 13), so a pipeline under `set -o pipefail` still sees
//! that the output was cut short.

use std::io::{self, Write};

/// The exit status of a program ended by SIGPIPE, which this one imitates.
pub(crate) const CLOSED_STDOUT_STATUS: i32 = 128 + 13;

/// Writes one line to stdout. A closed stdout ends the program quietly; any other write error
/// (a full disk behind a redirect) ends it with status 2 and says so on stderr.
pub(crate) fn line(args: std::fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(error) = written {
        if error.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(CLOSED_STDOUT_STATUS);
        }
        eprintln!("error: writing to stdout: {error}");
        std::process::exit(2);
    }
}
