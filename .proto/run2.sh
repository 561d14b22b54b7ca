cd /cache/build-debug-3dd8fbbdf056f8ee
bindgen /scx_rs/rust/ext/bindings_helper.h $(grep -Ev '^#|^$' /scx_rs/rust/ext/bindgen_parameters) --rust-target 1.85 --use-core --with-derive-default --ctypes-prefix ffi --no-layout-tests --no-debug '.*' --enable-function-attribute-detection \
  -o /scx_rs/.proto/out2.rs -- $(cat /scx_rs/.proto/flags) -I/cache/src-7.3-7.3.4-1_bpo13_1/kernel/sched -fno-builtin -D__BINDGEN__ 2>&1 | tail -20
wc -l /scx_rs/.proto/out2.rs
