"""One BLAS thread for the fits: they are thousands of tiny L-BFGS-B problems.

Multi-threaded BLAS only spin-waits on 3-vectors; on a busy machine that made each P1 fit more than
10x slower (0.6 s -> 8.6 s measured on 2 shared cores). Entering the limit costs ~50 µs once the
controller exists, so every fitting function can take it.
"""

from functools import cache

from threadpoolctl import ThreadpoolController  # a hard dependency of scikit-learn


@cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread():
    """Context manager limiting BLAS to one thread for its body."""
    return _controller().limit(limits=1, user_api="blas")
