"""Paginated list routes whose page size is capped by the ``PAGE_SIZE_MAX`` setting (SECURITY.md: bounded pages).

flask-smorest fixes ``max_page_size`` when the route is decorated, before any configuration is loaded, so the route
is declared with a loose ceiling and the configured cap is applied per request.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint, abort
from flask_smorest.pagination import PaginationParameters

# flask-smorest's own ceiling; PAGE_SIZE_MAX, checked per request, is the real cap.
PAGE_SIZE_CEILING = 10_000
# Far past any real list, and its offset far inside the databases' 64-bit integers (?page=10**20 overflowed: 500).
PAGE_MAX = 1_000_000


def cap_page_size(pagination_parameters: PaginationParameters, page_size_max: int, page_size_given: bool) -> None:
    """422 for a requested page_size over ``page_size_max`` or a page over ``PAGE_MAX``; a default page size
    shrinks to fit under the cap."""
    if pagination_parameters.page > PAGE_MAX:
        abort(422, errors={"page": [f"Must be less than or equal to {PAGE_MAX}."]})
    if not page_size_given:
        pagination_parameters.page_size = min(pagination_parameters.page_size, page_size_max)
    elif pagination_parameters.page_size > page_size_max:
        abort(422, errors={"page_size": [f"Must be less than or equal to {page_size_max}."]})


def paginate(blp: Blueprint, page_size: int = 20) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``blp.paginate`` (``?page=&page_size=``, ``X-Pagination`` header) with page_size at most PAGE_SIZE_MAX.

    The view receives ``pagination_parameters`` and sets its ``item_count``, as with ``blp.paginate``.
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def capped(*args: Any, pagination_parameters: PaginationParameters, **kwargs: Any) -> Any:
            cap_page_size(pagination_parameters, current_app.config["PAGE_SIZE_MAX"], "page_size" in request.args)
            return view(*args, pagination_parameters=pagination_parameters, **kwargs)

        return blp.paginate(page_size=page_size, max_page_size=PAGE_SIZE_CEILING)(capped)

    return decorator
