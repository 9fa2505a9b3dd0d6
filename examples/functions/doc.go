// Package functions holds the example functions bundled with gosledge.
//
// Each function is a small C program, NAME.c, compiled to a WASI preview1
// command module, NAME.wasm, that is committed beside its source; goecho
// and gohello (Go), rustecho and rustheaders (Rust) have a directory each. gosledge
// runs the module's _start once per HTTP request: the request body is its
// stdin, its stdout is the response body, query parameters are argv[1:],
// and its stderr goes to the log. It gets no environment and no files.
//
// The functions are
//
//   - fib: naive recursive Fibonacci, the call-heavy benchmark;
//   - echo: copies the body back;
//   - spin: busy-waits a given number of milliseconds;
//   - hash: SHA-256 of the body in hex;
//   - trap: divides by zero, which traps;
//   - exit1: exits with status 1;
//   - loop: never returns;
//   - grow: grows memory to the limit, then traps touching past it;
//   - goecho, rustecho: echo in Go and in Rust;
//   - gohello, rustheaders: WAGI functions in Go and Rust (a route with
//     interface = "wagi" gives them the CGI environment; they answer with
//     CGI headers).
//
// README.md describes each one's input, output and expected HTTP status.
// `make wasm` in this directory rebuilds the modules with clang and
// wasi-libc; the tests in this package run the committed modules under
// wazero. The package has no Go API.
package functions
