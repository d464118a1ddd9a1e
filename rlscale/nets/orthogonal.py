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
distribution and, up to float rounding, the same values for the same key) is computed by blocked
Householder reflections written in plain jax.lax ops, as LAPACK's geqrf/orgqr do: each panel of
BLOCK columns is reflected column by column, its reflectors gathered into the compact WY form
I - V T V^T (Schreiber & Van Loan 1989), and the rest of the matrix updated by matmuls. Unblocked,
the n sequential rank-1 updates were memory-bound: a [2048, 2048] kernel took 28 s on a 2-core
CPU, 2.3 s blocked; [8192, 2048] 105 s, 8.4 s. Only the CPU lowering uses it
(`lax.platform_dependent`); GPU/TPU keep the library QR.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

BLOCK = 64  # columns per panel; 32 and 128 were slower on [2048, 2048] and [8192, 2048] kernels


def _panel_reflectors(a: jax.Array, c0: jax.Array, width: int):
    """Reflect columns c0 .. c0 + width of `a` (rows above c0 are R's, left alone).

    Returns (V [m, width] unit Householder vectors, zero above their pivot rows; T [width, width]
    upper triangular with H_c0 ... H_last = I - V T V^T; signs of R's diagonal [width]).
    """
    rows, cols = jnp.arange(a.shape[0]), jnp.arange(width)

    def reflect(i, carry):
        panel, vs, signs = carry
        k = c0 + i
        x = jnp.where(rows >= k, jax.lax.dynamic_index_in_dim(panel, i, 1, keepdims=False), 0.0)
        sign = jnp.where(x[k] >= 0, 1.0, -1.0).astype(a.dtype)
        alpha = -sign * jnp.linalg.norm(x)  # R[k, k]
        v = x - alpha * (rows == k)
        v = v / jnp.maximum(jnp.linalg.norm(v), jnp.finfo(a.dtype).tiny)
        panel = panel - 2.0 * jnp.outer(v, v @ panel)
        return panel, vs.at[:, i].set(v), signs.at[i].set(jnp.where(alpha >= 0, 1.0, -1.0))

    panel = jax.lax.dynamic_slice_in_dim(a, c0, width, axis=1)
    init = (panel, jnp.zeros((a.shape[0], width), a.dtype), jnp.ones((width,), a.dtype))
    _, v, signs = jax.lax.fori_loop(0, width, reflect, init)
    vtv = v.T @ v

    def t_column(i, t):  # T_i = [[T, -2 T V^T v_i], [0, 2]]
        column = -2.0 * t @ jnp.where(cols < i, vtv[:, i], 0.0)
        return t.at[:, i].set(jnp.where(cols == i, 2.0, column))

    return v, jax.lax.fori_loop(0, width, t_column, jnp.zeros((width, width), a.dtype)), signs


def householder_q(z: jax.Array) -> jax.Array:
    """Q of the thin QR factorisation z = Q R (z: [m, n], m >= n) with diag(R) > 0.

    z is zero-padded to whole panels (and rows to match): zero columns after the last real one
    give identity reflectors, and zero rows stay zero, so Q's top-left [m, n] is unchanged.
    """
    m, n = z.shape
    width = min(BLOCK, n)
    padded_n = -(-n // width) * width
    padded_m = max(m, padded_n)
    a = jnp.zeros((padded_m, padded_n), z.dtype).at[:m, :n].set(z)

    def factor(a, c0):  # the panel's reflectors, then Q_panel^T applied to the whole matrix
        v, t, signs = _panel_reflectors(a, c0, width)
        return a - v @ (t.T @ (v.T @ a)), (v, t, signs)

    _, (vs, ts, signs) = jax.lax.scan(factor, a, jnp.arange(0, padded_n, width))

    def accumulate(q, panel):  # Q = Q_0 ... Q_last I[:, :n], applied right to left
        v, t = panel
        return q - v @ (t @ (v.T @ q)), None

    q, _ = jax.lax.scan(accumulate, jnp.eye(padded_m, n, dtype=z.dtype), (vs, ts), reverse=True)
    return q[:m] * signs.reshape(-1)[:n]  # fold in sign(diag(R)), as jax.random.orthogonal does


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
        q = jnp.reshape(q, (*np.delete(shape, column_axis), shape[column_axis]))
        return jnp.asarray(scale, dtype) * jnp.moveaxis(q, -1, column_axis)

    return init
