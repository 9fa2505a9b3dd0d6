;; From deislabs/wagi (Apache-2.0), testdata/module-maps/crlf.wat at 479fae0,
;; unchanged below this header: CGI headers ended by CRLF.
;; Build: wat2wasm wagi_crlf.wat -o wagi_crlf.wasm
(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory 1)
    (export "memory" (memory 0))

    (data (i32.const 8) "content-type: text/plain\r\n\r\nOh hi world\r\n")

    (func $main (export "_start")
        (i32.store (i32.const 0) (i32.const 8))
        (i32.store (i32.const 4) (i32.const 41))

        (call $fd_write
            (i32.const 1)
            (i32.const 0)
            (i32.const 1)
            (i32.const 20)
        )
        drop
    )
)