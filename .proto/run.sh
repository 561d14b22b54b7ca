cd /cache/build-debug-3dd8fbbdf056f8ee
time bindgen /scx_rs/.proto/ext.h --rust-target 1.85 --use-core --with-derive-default --ctypes-prefix ffi --no-layout-tests --no-debug '.*' --enable-function-attribute-detection \
  --allowlist-type 'scx_.*' --allowlist-type 'rq' --no-recursive-allowlist --blocklist-type '__kernel_s?size_t' --blocklist-type __kernel_ptrdiff_t --no-doc-comments \
  -o /scx_rs/.proto/out.rs -- $(cat /scx_rs/.proto/flags) -I/cache/src-7.3-7.3.4-1_bpo13_1/kernel/sched -fno-builtin -D__BINDGEN__ -w 2>&1 | tail -20
wc -l /scx_rs/.proto/out.rs
