;; Build: wat2wasm memory.wat -o memory.wasm
;;
;; A memory without a maximum, for the MaxMemoryPages tests, and no type,
;; import or export section of its own.
(module
  (memory 2)
  (func (drop (memory.grow (i32.const 1)))))
