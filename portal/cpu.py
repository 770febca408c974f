"""CPU-bound work on a web worker without stalling its gevent loop (and every stream on it)."""


def off_the_loop(func, *args):
    """``func(*args)``, in one of gevent's native threads when this process runs under gevent
    (the loop keeps serving other greenlets while, e.g., Pillow decodes with the GIL
    released), directly otherwise. Exceptions reach the caller either way.

    ``func`` must not use gevent itself (no sockets, no gevent locks): it runs outside the loop.
    """
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover (gevent is a dependency)
        return func(*args)
    if not monkey.is_module_patched("threading"):
        return func(*args)
    import gevent
    # The hub's pool has a fixed size (10 threads): it also bounds how many decodes run at once.
    return gevent.get_hub().threadpool.apply(func, args)
