// Package examples holds the bundled example functions (functions/: C,
// Go and Rust sources beside their committed .wasm) and the default config that serves
// them, embedded so `sledge serve` works with no files at hand.
//
// What must not live here: runtime code. Example policies are separate
// programs under policies/.
package examples
