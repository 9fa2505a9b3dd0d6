// From deislabs/wagi (Apache-2.0), testdata/sources/print-env/src/main.rs at
// 479fae0, unchanged below this header: prints its sorted environment.
// Build (Debian's rustc 1.63, apt-get install rustc libstd-rust-dev-wasm32):
//   rustc --edition 2021 --target wasm32-wasi -C opt-level=2 -C strip=symbols -o wagi_printenv.wasm wagi_printenv.rs
fn main() {
    println!("Content-Type: text/plain\n");
    let mut env_vars: Vec<_> = std::env::vars().collect();
    env_vars.sort();
    for (k, v) in env_vars {
        println!("{} = {}", k, v);
    }
}
