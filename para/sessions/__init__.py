"""The session use cases, one module each, as functions over a ``SessionContext``.

``start`` (init, excludes, includes, setup, container or host), ``finish``, ``archive``
(cancel, recover), ``clean``, ``views`` (list and status), ``resolve`` (which session is
meant), ``host`` (session variables, IDE, reports, dispatch, shells), ``run`` (commands in
a session: exec, detached jobs), ``watch`` (requests from sessions). Kept free of imports:
the ``docker exec`` fast path imports ``resolve``.
"""
