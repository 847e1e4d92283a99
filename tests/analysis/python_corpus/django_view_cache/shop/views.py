# A Django view that memoises every rendered cart by its session key, forever.
# expect: growth function=cart line=12 variable=_RENDERED
from django.http import HttpResponse

_RENDERED: dict[str, bytes] = {}


def cart(request):
    key = request.session.session_key
    body = _RENDERED.get(key)
    if body is None:
        _RENDERED[key] = body = render_cart(request)
    return HttpResponse(body)


def render_cart(request) -> bytes:
    return b"<html>cart</html>"
