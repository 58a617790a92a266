//! Our CPU kernels, reached through safe functions that check the shapes, CPU features and
//! layouts they rely on: `int8` (Q8_0 matmul on AVX-512 VNNI), `attention` (one pass per
//! query) and `pool` (the worker threads both split their work over).

pub(crate) mod attention;
pub(crate) mod int8;
pub(crate) mod pool;
