// rustecho is the Rust version of echo.c: it copies stdin to stdout, binary
// safe. A standard Rust program for WASI preview 1, built with Debian's
// rustc (no cargo, no crates):
//
//     rustc --edition 2021 --target wasm32-wasi -C opt-level=2 -C strip=symbols -o rustecho.wasm main.rs
//
// (Debian: apt-get install rustc libstd-rust-dev-wasm32.)
use std::io;
use std::process;

fn main() {
    let stdin = io::stdin();
    let stdout = io::stdout();
    if io::copy(&mut stdin.lock(), &mut stdout.lock()).is_err() {
        process::exit(1);
    }
}
