// rustheaders is a WAGI function in Rust (a route with interface = "wagi"):
// it lists the request headers it was given, one "Name: value" line each
// in the order of their HTTP_* variables, so a client sees what reaches a
// guest (Authorization, hop-by-hop headers and the like never do). It says
// how many in an X-Header-Count header and forbids caching; a method other
// than GET or HEAD is a 405 with Allow. Any WAGI host runs it. A standard
// Rust program for WASI preview 1, built with Debian's rustc (no cargo):
//
//     rustc --edition 2021 --target wasm32-wasi -C opt-level=2 -C strip=symbols -o rustheaders.wasm main.rs
use std::env;
use std::io::{self, Write};

fn main() {
    let method = env::var("REQUEST_METHOD").unwrap_or_default();
    if method != "GET" && method != "HEAD" {
        reply("405 Method Not Allowed", &["Allow: GET, HEAD".to_string()], format!("method {} not allowed\n", method));
        return;
    }
    let mut headers: Vec<(String, String)> = env::vars()
        .filter_map(|(k, v)| k.strip_prefix("HTTP_").map(|name| (name.to_string(), v)))
        .collect();
    headers.sort();
    let mut body = String::new();
    for (name, value) in &headers {
        // HTTP_ACCEPT_LANGUAGE → Accept-Language
        let words: Vec<String> = name
            .split('_')
            .map(|w| {
                let lower = w.to_ascii_lowercase();
                let mut cs = lower.chars();
                match cs.next() {
                    Some(c) => c.to_ascii_uppercase().to_string() + cs.as_str(),
                    None => String::new(),
                }
            })
            .collect();
        body.push_str(&format!("{}: {}\n", words.join("-"), value));
    }
    reply(
        "200 OK",
        &["Cache-Control: no-store".to_string(), format!("X-Header-Count: {}", headers.len())],
        body,
    );
}

// reply prints the CGI headers, the empty line that ends them, and body.
fn reply(status: &str, headers: &[String], body: String) {
    let mut out = format!("Content-Type: text/plain; charset=utf-8\nStatus: {}\n", status);
    for h in headers {
        out.push_str(h);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&body);
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    if lock.write_all(out.as_bytes()).and_then(|_| lock.flush()).is_err() {
        std::process::exit(1);
    }
}
