"""Orthogonal initialiser without LAPACK custom calls.

`jax.nn.initializers.orthogonal` draws z ~ N(0, 1) and takes Q of `jnp.linalg.qr(z)` with the
signs of diag(R) folded in (Mezzadri 2007). On the CPU backend that QR lowers to the LAPACK FFI
custom calls `lapack_sgeqrf_ffi` + `lapack_sorgqr_ffi`. With jaxlib 0.10.2, jitted agent inits
holding many of them (SimbaV2 at widths 32-128: 14 pairs, some batched over the critic ensemble;
BRO at width 128) never finish: every XLA CPU worker idles and the caller waits in
BlockUntilReady. `XLA_FLAGS=--xla_cpu_enable_concurrency_optimized_scheduler=false` avoids it
(OPENBLAS_NUM_THREADS=1, multi_thread_eigen/xnnpack off do not), so it is a scheduling deadlock
around these custom calls in XLA's CPU runtime, not in OpenBLAS. Small programs of QRs alone did
not reproduce it.

Here the same Q (the unique thin-QR factor with a positive diagonal of R, so the same Haar
distribution and, up to float rounding, the same values for the same key) is computed by
Householder reflections written in plain jax.lax ops. That runs n sequential rank-1 updates,
so only the CPU lowering uses it (`lax.platform_dependent`); GPU/TPU keep the library QR.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def householder_q(z: jax.Array) -> jax.Array:
    """Q of the thin QR factorisation z = Q R (z: [m, n], m >= n) with diag(R) > 0."""
    m, n = z.shape
    rows = jnp.arange(m)

    def reflect(k, carry):
        a, vs, signs = carry
        x = jnp.where(rows >= k, a[:, k], 0.0)
        xk = x[k]
        sign = jnp.where(xk >= 0, 1.0, -1.0).astype(z.dtype)
        alpha = -sign * jnp.linalg.norm(x)  # R[k, k]
        v = x - alpha * (rows == k)
        v = v / jnp.maximum(jnp.linalg.norm(v), jnp.finfo(z.dtype).tiny)
        a = a - 2.0 * jnp.outer(v, v @ a)
        return a, vs.at[k].set(v), signs.at[k].set(jnp.where(alpha >= 0, 1.0, -1.0))

    init = (z, jnp.zeros((n, m), z.dtype), jnp.ones((n,), z.dtype))
    _, vs, signs = jax.lax.fori_loop(0, n, reflect, init)

    def accumulate(i, q):  # Q = H_0 ... H_{n-1} I[:, :n], applied right to left
        v = vs[n - 1 - i]
        return q - 2.0 * jnp.outer(v, v @ q)

    q = jax.lax.fori_loop(0, n, accumulate, jnp.eye(m, n, dtype=z.dtype))
    return q * signs  # fold in sign(diag(R)), as jax.random.orthogonal does


def _library_q(z: jax.Array) -> jax.Array:
    q, r = jnp.linalg.qr(z)
    return q * jnp.sign(jnp.diagonal(r))


def thin_q(z: jax.Array) -> jax.Array:
    """householder_q on CPU, jnp.linalg.qr (cuSOLVER etc.) elsewhere; same Q up to rounding."""
    return jax.lax.platform_dependent(z, cpu=householder_q, default=_library_q)


def orthogonal(scale: float = 1.0, column_axis: int = -1):
    """Drop-in for `nn.initializers.orthogonal(scale, column_axis)` (same draw, same layout)."""

    def init(key, shape, dtype=jnp.float32):
        if len(shape) < 2:
            raise ValueError("orthogonal initializer requires at least a 2D shape")
        n_rows, n_cols = math.prod(shape) // shape[column_axis], shape[column_axis]
        z = jax.random.normal(key, (max(n_rows, n_cols), min(n_rows, n_cols)), dtype)
        q = thin_q(z)
        if n_rows < n_cols:
            q = q.T
        q = jnp.reshape(q, tuple(np.delete(shape, column_axis)) + (shape[column_axis],))
        return jnp.asarray(scale, dtype) * jnp.moveaxis(q, -1, column_axis)

    return init
